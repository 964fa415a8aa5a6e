//! Handler time per endpoint step, for the Lambda cost figures in the README ("Cost of a million
//! device flows"; `infra/bench/lambda_cost.py` reads the results).
//!
//! Each bench sends one valid request through `routes::dispatch` on an `App` over the memory
//! store with the demo data, in a current-thread runtime, and times only that request: whatever
//! state it needs (a grant, a started or signed-on flow, an approved grant, a refresh token) is
//! made before the clock starts, through the same API. The JSON log subscriber of the Lambda
//! functions is installed, writing to a sink, so the figures include the request log line and the
//! audit events. The memory store makes no network round trip: the DynamoDB latency of each step
//! is added by the cost script, as an assumption it states.
//!
//! `cargo bench -p shared --bench handlers` (a filter after `--` runs some: `-- token_`).
//! Results: `$CARGO_TARGET_DIR/criterion/<name>/new/estimates.json` (else `target/criterion`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Bencher, Criterion, SamplingMode};
use http::header::{HeaderValue, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{Method, StatusCode};
use serde_json::Value;
use shared::clock::{Clock, ManualClock, OsRandom, SystemClock};
use shared::demo::{self, ADMIN_APP_ID, ADMIN_APP_SECRET, DEVICE_APP_ID, ENVIRONMENT_ID as ENV, PASSWORD, USERNAME};
use shared::hashing::Hasher;
use shared::http::{Request, Response};
use shared::routes::dispatch;
use shared::store::memory::MemoryStore;
use shared::tokens::Signer;
use shared::{App, Settings};
use tokio::runtime::Runtime;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A session lives 8 hours (`sessions::SESSION_LIFETIME_S`); sign on again well before.
const SESSION_RENEW_MS: i64 = 4 * 3600 * 1000;

/// Cookies a browser keeps.
#[derive(Clone, Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.0.remove(name);
                } else {
                    self.0.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }

    fn send(&self, mut req: Request) -> Request {
        if !self.0.is_empty() {
            let header = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req.headers.insert(COOKIE, HeaderValue::from_str(&header).unwrap());
        }
        req
    }
}

/// A fresh app over the memory store with the demo data, its manual clock, and a source address
/// per device (the device authorization limit counts per network).
struct Harness {
    app: Arc<App>,
    clock: Arc<ManualClock>,
    next_device: u32,
    /// A signed-on browser (its `browser_key` and `ST` cookies) and when it signed on.
    session: Option<(Jar, i64)>,
}

fn settings() -> Settings {
    Settings::from_lookup(|name| match name {
        "PUBLIC_BASE_URL" => Some("https://auth.example.com".to_owned()),
        // The clock runs ahead by hours over a bench: keep the warm instance's application cache
        // (a real one reloads once a minute) so no step pays a reload.
        "DIRECTORY_CACHE_SECONDS" => Some("1000000000".to_owned()),
        _ => None,
    })
    .expect("bench settings")
}

impl Harness {
    fn new(rt: &Runtime) -> Self {
        let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
        let hasher = Hasher::new(&shared::clock::random_bytes::<32>(&OsRandom));
        let app = Arc::new(App::new(
            settings(),
            Arc::new(MemoryStore::new()),
            hasher,
            Signer::generate(),
            clock.clone(),
            Arc::new(OsRandom),
        ));
        rt.block_on(demo::seed(&app)).expect("seed the demo data");
        Self { app, clock, next_device: 0, session: None }
    }

    async fn send(&self, req: Request) -> Response {
        dispatch(&self.app, req).await
    }

    /// A device on a network of its own, 120 ms after the last (under 600 per minute per client).
    fn next_device_ip(&mut self) -> IpAddr {
        self.next_device += 1;
        self.clock.advance_ms(120);
        let n = self.next_device;
        IpAddr::V4(Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8))
    }

    /// A new device grant: (device_code, user_code).
    async fn grant(&mut self) -> (String, String) {
        let req = device_authorization(self.next_device_ip());
        let answer = self.send(req).await;
        let body = json_of(&answer, StatusCode::OK);
        (text(&body, "device_code"), text(&body, "user_code"))
    }

    /// A browser signed on as the demo user (one argon2 check, every few hours of bench clock).
    async fn signed_on(&mut self) -> Jar {
        if let Some((jar, at)) = &self.session {
            if self.clock.now_ms() - at < SESSION_RENEW_MS {
                return jar.clone();
            }
        }
        let (mut jar, flow) = self.start_flow(Jar::default()).await;
        let login = flow_action(
            &flow,
            "usernamePassword.check",
            &format!(r#"{{"username":"{USERNAME}","password":"{PASSWORD}"}}"#),
        );
        let answer = self.send(jar.send(login)).await;
        assert_eq!(status_of(&json_of(&answer, StatusCode::OK)), "DAG_USER_CODE_REQUIRED");
        jar.keep(&answer);
        assert!(jar.0.contains_key("ST"), "the sign-on sets the session cookie");
        self.session = Some((jar.clone(), self.clock.now_ms()));
        jar
    }

    /// `GET /{env}/device` in `jar`'s browser: the jar with its cookies, and the flow id.
    async fn start_flow(&self, mut jar: Jar) -> (Jar, String) {
        let answer = self.send(jar.send(Request::new(Method::GET, &format!("/{ENV}/device")))).await;
        assert_eq!(answer.status(), StatusCode::FOUND);
        jar.keep(&answer);
        (jar, flow_id_of(&answer))
    }

    /// A flow signed on with the session, its code verified: (jar, flow id, device code).
    async fn verified_flow(&mut self) -> (Jar, String, String) {
        let (device_code, user_code) = self.grant().await;
        let jar = self.signed_on().await;
        let (jar, flow) = self.start_flow(jar).await;
        let verify = flow_action(&flow, "deviceAuthGrant.userCode.verify", &format!(r#"{{"userCode":"{user_code}"}}"#));
        let answer = self.send(jar.send(verify)).await;
        assert_eq!(status_of(&json_of(&answer, StatusCode::OK)), "DAG_CONSENT_REQUIRED");
        (jar, flow, device_code)
    }

    /// An approved grant's device code.
    async fn approved_grant(&mut self) -> String {
        let (jar, flow, device_code) = self.verified_flow().await;
        let answer = self.send(jar.send(consent(&flow))).await;
        assert_eq!(status_of(&json_of(&answer, StatusCode::OK)), "COMPLETED");
        device_code
    }
}

fn device_authorization(ip: IpAddr) -> Request {
    let mut req =
        form(&format!("/{ENV}/as/device_authorization"), &[("client_id", DEVICE_APP_ID), ("scope", "openid")]);
    req.source_ip = Some(ip);
    req
}

fn poll(device_code: &str) -> Request {
    form(
        &format!("/{ENV}/as/token"),
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", DEVICE_APP_ID)],
    )
}

fn consent(flow: &str) -> Request {
    flow_action(flow, "deviceAuthGrant.consent", r#"{"accept":true}"#)
}

fn form(path: &str, fields: &[(&str, &str)]) -> Request {
    let mut req = Request::new(Method::POST, path);
    req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    req.body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish().into_bytes();
    req.source_ip = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
    req
}

fn flow_action(flow: &str, action: &str, body: &str) -> Request {
    let mut req = Request::new(Method::POST, &format!("/{ENV}/flows/{flow}"));
    let media_type = format!("application/vnd.pingidentity.{action}+json");
    req.headers.insert(CONTENT_TYPE, HeaderValue::from_str(&media_type).unwrap());
    req.body = body.as_bytes().to_vec();
    req.source_ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)));
    req
}

/// A hosted sign-on page form post (`POST /{env}/signon/?flowId=…`) with the page's CSRF token.
fn page_post(flow: &str, csrf: &str, fields: &[(&str, &str)]) -> Request {
    let query = form_urlencoded::Serializer::new(String::new()).append_pair("flowId", flow).finish();
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    let mut req = form(&format!("/{ENV}/signon/?{query}"), &all);
    req.source_ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)));
    req
}

fn page_get(flow: &str, user_code: Option<&str>) -> Request {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("flowId", flow);
    if let Some(code) = user_code {
        query.append_pair("user_code", code);
    }
    Request::new(Method::GET, &format!("/{ENV}/signon/?{}", query.finish()))
}

fn json_of(answer: &Response, status: StatusCode) -> Value {
    let body: Value = serde_json::from_slice(answer.body()).unwrap_or(Value::Null);
    assert_eq!(answer.status(), status, "{body}");
    body
}

fn text(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("{name} in {body}")).to_owned()
}

fn status_of(body: &Value) -> String {
    text(body, "status")
}

fn flow_id_of(answer: &Response) -> String {
    let location = answer.headers()[LOCATION].to_str().unwrap();
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "flowId").expect("a flowId").1.into_owned()
}

/// The CSRF token of a page's form.
fn csrf_of(answer: &Response) -> String {
    let html = String::from_utf8_lossy(answer.body());
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("a CSRF token in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn html_of(answer: &Response, status: StatusCode, contains: &str) {
    assert_eq!(answer.status(), status);
    let html = String::from_utf8_lossy(answer.body());
    assert!(html.contains(contains), "{contains:?} in {html}");
}

/// Times `iters` requests, each made by `setup` (untimed) and checked by `check` (untimed).
fn timed<S, C>(b: &mut Bencher<'_>, rt: &Runtime, h: &mut Harness, mut setup: S, check: C)
where
    S: AsyncFnMut(&mut Harness) -> Request,
    C: Fn(&Response),
{
    b.iter_custom(|iters| {
        rt.block_on(async {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let req = setup(h).await;
                let started = Instant::now();
                let answer = h.send(req).await;
                total += started.elapsed();
                check(&answer);
            }
            total
        })
    });
}

/// The same request every time (the endpoint changes nothing).
fn repeated(b: &mut Bencher<'_>, rt: &Runtime, h: &mut Harness, req: Request, check: impl Fn(&Response)) {
    timed(b, rt, h, async |_| req.clone(), check);
}

/// A current-thread runtime, as each bench's.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn oauth_error(answer: &Response, error: &str) {
    assert_eq!(json_of(answer, StatusCode::BAD_REQUEST)["error"], error);
}

fn tokens(answer: &Response) {
    let body = json_of(answer, StatusCode::OK);
    assert!(body["access_token"].is_string(), "{body}");
}

/// A bench of its own: a fresh harness (made once; criterion calls the closure once per sample).
fn fresh() -> (Runtime, Harness) {
    let rt = runtime();
    let h = Harness::new(&rt);
    (rt, h)
}

fn device_flow(c: &mut Criterion) {
    let (rt, mut h) = fresh();
    c.bench_function("device_authorization", |b| {
        timed(b, &rt, &mut h, async |h| device_authorization(h.next_device_ip()), |a| drop(json_of(a, StatusCode::OK)));
    });

    let (rt, mut h) = fresh();
    let start = Request::new(Method::GET, &format!("/{ENV}/device"));
    c.bench_function("device_flow_start", |b| {
        repeated(b, &rt, &mut h, start.clone(), |a| assert_eq!(a.status(), StatusCode::FOUND));
    });

    // Polls 1..11 of a grant, `interval` seconds apart, as a well-behaved device makes them.
    let (rt, mut h) = fresh();
    let mut current: Option<(String, u32)> = None;
    c.bench_function("token_poll_pending", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let code = match current.take() {
                    Some((code, polls)) if polls < 11 => {
                        current = Some((code.clone(), polls + 1));
                        code
                    }
                    _ => {
                        let (code, _) = h.grant().await;
                        current = Some((code.clone(), 1));
                        code
                    }
                };
                h.clock.advance_ms(5_000);
                poll(&code)
            },
            |a| oauth_error(a, "authorization_pending"),
        );
    });

    // A poll a millisecond after the last one.
    let (rt, mut h) = fresh();
    c.bench_function("token_poll_slow_down", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (code, _) = h.grant().await;
                oauth_error(&h.send(poll(&code)).await, "authorization_pending");
                h.clock.advance_ms(1);
                poll(&code)
            },
            |a| oauth_error(a, "slow_down"),
        );
    });

    // The poll that redeems an approved grant: access token, ID token (scope openid), refresh
    // token (the demo device app allows REFRESH_TOKEN).
    let (rt, mut h) = fresh();
    c.bench_function("token_poll_success", |b| {
        timed(b, &rt, &mut h, async |h| poll(&h.approved_grant().await), tokens);
    });

    // Each refresh spends the token the last one returned (they rotate).
    let (rt, mut h) = fresh();
    let first = rt.block_on(async {
        let code = h.approved_grant().await;
        h.send(poll(&code)).await
    });
    let refresh_token = RefCell::new(text(&json_of(&first, StatusCode::OK), "refresh_token"));
    c.bench_function("token_refresh", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |_| {
                let token = refresh_token.borrow().clone();
                let fields = [("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", DEVICE_APP_ID)];
                form(&format!("/{ENV}/as/token"), &fields)
            },
            |a| *refresh_token.borrow_mut() = text(&json_of(a, StatusCode::OK), "refresh_token"),
        );
    });
}

/// The flow API (PingOne's, as a custom sign-on UI drives it).
fn flow_api(c: &mut Criterion) {
    let (rt, mut h) = fresh();
    let (jar, flow) = rt.block_on(h.start_flow(Jar::default()));
    let get = jar.send(Request::new(Method::GET, &format!("/{ENV}/flows/{flow}")));
    c.bench_function("flow_get", |b| {
        repeated(b, &rt, &mut h, get.clone(), |a| {
            assert_eq!(status_of(&json_of(a, StatusCode::OK)), "USERNAME_PASSWORD_REQUIRED")
        });
    });

    let (rt, mut h) = fresh();
    c.bench_function("flow_user_code_verify", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (_, user_code) = h.grant().await;
                let jar = h.signed_on().await;
                let (jar, flow) = h.start_flow(jar).await;
                let body = format!(r#"{{"userCode":"{user_code}"}}"#);
                jar.send(flow_action(&flow, "deviceAuthGrant.userCode.verify", &body))
            },
            |a| assert_eq!(status_of(&json_of(a, StatusCode::OK)), "DAG_CONSENT_REQUIRED"),
        );
    });

    let (rt, mut h) = fresh();
    c.bench_function("flow_consent", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (jar, flow, _) = h.verified_flow().await;
                jar.send(consent(&flow))
            },
            |a| assert_eq!(status_of(&json_of(a, StatusCode::OK)), "COMPLETED"),
        );
    });
}

/// A browser at the code page of `verification_uri_complete`: (jar, flow id, the page, code).
async fn at_confirm_page(h: &mut Harness, jar: Jar) -> (Jar, String, Response, String) {
    let (_, user_code) = h.grant().await;
    let (jar, flow) = h.start_flow(jar).await;
    let page = h.send(jar.send(page_get(&flow, Some(&user_code)))).await;
    html_of(&page, StatusCode::OK, &user_code);
    (jar, flow, page, user_code)
}

/// The browser after confirming the code on the page: (jar, flow id).
async fn code_confirmed(h: &mut Harness, jar: Jar) -> (Jar, String) {
    let (jar, flow, page, user_code) = at_confirm_page(h, jar).await;
    let post = page_post(&flow, &csrf_of(&page), &[("step", "code"), ("user_code", &user_code)]);
    assert_eq!(h.send(jar.send(post)).await.status(), StatusCode::SEE_OTHER);
    (jar, flow)
}

/// The hosted sign-on pages, as a browser walks them from `verification_uri_complete`: confirm
/// the code, sign in, allow, the result; the stylesheet once. Each `GET` is the page the `303`
/// of the form before it leads to.
fn pages(c: &mut Criterion) {
    let (rt, mut h) = fresh();
    let (jar, flow) = rt.block_on(h.start_flow(Jar::default()));
    let get = jar.send(page_get(&flow, Some("BCDF-GHJK")));
    c.bench_function("page_confirm_code", |b| {
        repeated(b, &rt, &mut h, get.clone(), |a| html_of(a, StatusCode::OK, "BCDF-GHJK"));
    });

    let (rt, mut h) = fresh();
    c.bench_function("page_post_code", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (jar, flow, page, user_code) = at_confirm_page(h, Jar::default()).await;
                jar.send(page_post(&flow, &csrf_of(&page), &[("step", "code"), ("user_code", &user_code)]))
            },
            |a| assert_eq!(a.status(), StatusCode::SEE_OTHER),
        );
    });

    let (rt, mut h) = fresh();
    let (jar, flow) = rt.block_on(code_confirmed(&mut h, Jar::default()));
    let get = jar.send(page_get(&flow, None));
    c.bench_function("page_sign_in", |b| {
        repeated(b, &rt, &mut h, get.clone(), |a| html_of(a, StatusCode::OK, "current-password"));
    });

    // Signed on already (the session of an earlier sign-on): the code leads to the approval.
    let (rt, mut h) = fresh();
    let (jar, flow) = rt.block_on(async {
        let jar = h.signed_on().await;
        code_confirmed(&mut h, jar).await
    });
    let get = jar.send(page_get(&flow, None));
    c.bench_function("page_approve", |b| {
        repeated(b, &rt, &mut h, get.clone(), |a| html_of(a, StatusCode::OK, "Demo TV"));
    });

    let (rt, mut h) = fresh();
    c.bench_function("page_post_consent", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let jar = h.signed_on().await;
                let (jar, flow) = code_confirmed(h, jar).await;
                let page = h.send(jar.send(page_get(&flow, None))).await;
                jar.send(page_post(&flow, &csrf_of(&page), &[("step", "consent"), ("decision", "allow")]))
            },
            |a| assert_eq!(a.status(), StatusCode::SEE_OTHER),
        );
    });

    let (rt, mut h) = fresh();
    let get = rt.block_on(async {
        let (jar, flow, _) = h.verified_flow().await;
        assert_eq!(status_of(&json_of(&h.send(jar.send(consent(&flow))).await, StatusCode::OK)), "COMPLETED");
        jar.send(page_get(&flow, None))
    });
    c.bench_function("page_result", |b| {
        repeated(b, &rt, &mut h, get.clone(), |a| assert_eq!(a.status(), StatusCode::OK));
    });

    let (rt, mut h) = fresh();
    let css = Request::new(Method::GET, &format!("/{ENV}/signon/style.css"));
    c.bench_function("page_stylesheet", |b| {
        repeated(b, &rt, &mut h, css.clone(), |a| assert_eq!(a.status(), StatusCode::OK));
    });
}

/// Sign-on with a password: an argon2id check (m=19 MiB, t=2, p=1) on the blocking pool, which
/// dominates. Few samples, each a handful of sign-ons.
fn sign_on(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign_on");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
    let (rt, mut h) = fresh();
    group.bench_function("flow_sign_on", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (jar, flow) = h.start_flow(Jar::default()).await;
                let body = format!(r#"{{"username":"{USERNAME}","password":"{PASSWORD}"}}"#);
                jar.send(flow_action(&flow, "usernamePassword.check", &body))
            },
            |a| assert_eq!(status_of(&json_of(a, StatusCode::OK)), "DAG_USER_CODE_REQUIRED"),
        );
    });
    let (rt, mut h) = fresh();
    group.bench_function("page_post_sign_in", |b| {
        timed(
            b,
            &rt,
            &mut h,
            async |h| {
                let (jar, flow) = code_confirmed(h, Jar::default()).await;
                let page = h.send(jar.send(page_get(&flow, None))).await;
                let fields = [("step", "login"), ("username", USERNAME), ("password", PASSWORD)];
                jar.send(page_post(&flow, &csrf_of(&page), &fields))
            },
            |a| assert_eq!(a.status(), StatusCode::SEE_OTHER),
        );
    });
    let phc = shared::passwords::hash_password(PASSWORD);
    group.bench_function("argon2_verify", |b| {
        b.iter(|| assert!(shared::passwords::verify_password(PASSWORD, &phc)));
    });
    group.finish();
}

/// The other endpoints a device flow's client and its resource servers call.
fn others(c: &mut Criterion) {
    let basic = format!("Basic {}", B64_STD.encode(format!("{ADMIN_APP_ID}:{ADMIN_APP_SECRET}")));
    let mut client_credentials = form(&format!("/{ENV}/as/token"), &[("grant_type", "client_credentials")]);
    client_credentials.headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&basic).unwrap());
    let (rt, mut h) = fresh();
    c.bench_function("token_client_credentials", |b| {
        repeated(b, &rt, &mut h, client_credentials.clone(), tokens);
    });
    // The same without the log subscriber: what the request log line and audit events cost.
    c.bench_function("token_client_credentials_nolog", |b| {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            repeated(b, &rt, &mut h, client_credentials.clone(), tokens);
        });
    });

    let (rt, mut h) = fresh();
    let jwks = Request::new(Method::GET, &format!("/{ENV}/as/jwks"));
    c.bench_function("jwks", |b| {
        repeated(b, &rt, &mut h, jwks.clone(), |a| assert_eq!(a.status(), StatusCode::OK));
    });
    let discovery = Request::new(Method::GET, &format!("/{ENV}/as/.well-known/openid-configuration"));
    c.bench_function("discovery", |b| {
        repeated(b, &rt, &mut h, discovery.clone(), |a| assert_eq!(a.status(), StatusCode::OK));
    });

    // One ES256 access token signature alone (the floor under every token answer).
    let claims = serde_json::json!({"iss": "https://auth.example.com", "sub": ADMIN_APP_ID, "exp": 2_000_000_000});
    c.bench_function("sign_es256", |b| {
        b.iter(|| h.app.signer.sign(shared::model::SigningAlg::ES256, "at+jwt", &claims));
    });
}

/// The Lambda functions' log subscriber (`functions::tracing_subscriber_init`), into a sink.
fn lambda_logs() {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .without_time()
        .with_target(false)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
}

fn config() -> Criterion {
    lambda_logs();
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args()
}

criterion_group! {
    name = handlers;
    config = config();
    targets = device_flow, flow_api, pages, sign_on, others
}
criterion_main!(handlers);
