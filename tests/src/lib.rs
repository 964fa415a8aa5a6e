//! Black-box test harness: a local server on a free loopback port over either store, with a
//! manual clock and a request counter, plus an HTTP client speaking both dialects.
//!
//! DynamoDB runs against a real DynamoDB-compatible server (moto) whose URL the test command
//! exports as `DYNAMODB_ENDPOINT_URL`; each server gets its own fresh table.

pub mod admin;
pub mod budget;
pub mod faults;
pub mod jose;
pub mod mtls;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use shared::clock::{Clock, ManualClock, OsRandom};
use shared::config::{Settings, StoreSettings};
use shared::hashing::Hasher;
use shared::model::{Application, GrantType, SigningAlg, TokenEndpointAuthMethod};
use shared::store::counting::{CountingStore, RequestCounter};
use shared::store::dynamodb::DynamoStore;
use shared::store::memory::MemoryStore;
use shared::store::Store;
use shared::tokens::Signer;
use shared::{App, Dialect};

pub use shared::demo;
pub use shared::demo::{DEVICE_APP_ID, ENVIRONMENT_ID as ENV, WEB_APP_ID, WEB_APP_SECRET};

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A confidential device app authenticating with client_secret_post, signing with RS256.
pub const POST_APP_ID: &str = "00000000-0000-4000-8000-0000000000b2";
pub const POST_APP_SECRET: &str = "post-app-secret";
/// A public single-page app: authorization code with PKCE S256 required, refresh tokens.
pub const SPA_APP_ID: &str = "00000000-0000-4000-8000-0000000000e5";
/// An app without DEVICE_CODE.
pub const WORKER_APP_ID: &str = "00000000-0000-4000-8000-0000000000c3";
pub const WORKER_APP_SECRET: &str = "worker-secret";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    DynamoDb,
}

pub const BOTH_STORES: [StoreKind; 2] = [StoreKind::Memory, StoreKind::DynamoDb];
pub const BOTH_DIALECTS: [Dialect; 2] = [Dialect::PingOne, Dialect::PingFederate];

/// The DynamoDB-compatible server the test command started.
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "DYNAMODB_ENDPOINT_URL is not set. The DynamoDB tests need a DynamoDB-compatible server: \
             run the README's test command (infra/scripts/test.sh starts moto), or start one and export its URL."
        )
    })
}

/// The DynamoDB-compatible servers for the store-level races (`DYNAMODB_RACE_ENDPOINT_URLS`,
/// comma-separated: the test command starts two beside the main one, so that the races keep both
/// cores busy; moto answers one request at a time), or the main server when it is not set.
pub fn race_endpoints() -> Vec<String> {
    match std::env::var("DYNAMODB_RACE_ENDPOINT_URLS") {
        Ok(urls) if !urls.trim().is_empty() => urls.split(',').map(|url| url.trim().to_owned()).collect(),
        _ => vec![dynamodb_endpoint()],
    }
}

/// A fresh table on the test DynamoDB server.
pub async fn fresh_dynamo_table() -> DynamoStore {
    fresh_dynamo_table_at(&dynamodb_endpoint()).await
}

/// A fresh table on the DynamoDB-compatible server at `endpoint`.
pub async fn fresh_dynamo_table_at(endpoint: &str) -> DynamoStore {
    let client = DynamoStore::client(Some(endpoint)).unwrap();
    let store = DynamoStore::new(client, format!("ping-test-{}", uuid::Uuid::new_v4()));
    store.create_table().await.expect("create a table on the test DynamoDB server");
    store
}

/// A fresh table reached through `faults`, with production's timeouts (an attempt 2 s, a request
/// with its retries 5 s; the loopback defaults are longer) so that injected timeouts cost little
/// while a busy test server still answers in time; retries as in production.
pub async fn faulty_dynamo_table(faults: &faults::Faults) -> DynamoStore {
    let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(500))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(std::time::Duration::from_secs(5))
        .build();
    dynamo_table_through(faults, Some(timeouts)).await
}

/// A fresh table reached through `wire` with nothing armed, with the loopback timeouts of
/// `fresh_dynamo_table` (a slow test server is waited for, not retried): `wire` counts every
/// request the SDK sends, retries included, and changes none.
pub async fn metered_dynamo_table(wire: &faults::Faults) -> DynamoStore {
    dynamo_table_through(wire, None).await
}

async fn dynamo_table_through(
    faults: &faults::Faults,
    timeouts: Option<aws_sdk_dynamodb::config::timeout::TimeoutConfig>,
) -> DynamoStore {
    let table = format!("ping-test-{}", uuid::Uuid::new_v4());
    let plain = DynamoStore::new(DynamoStore::client(Some(&dynamodb_endpoint())).unwrap(), &table);
    plain.create_table().await.expect("create a table on the test DynamoDB server");
    let mut config = DynamoStore::client_config(Some(&dynamodb_endpoint())).unwrap().http_client(faults.http_client());
    if let Some(timeouts) = timeouts {
        config = config.timeout_config(timeouts);
    }
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config.build()), table)
}

/// A fresh secret on the test server (moto serves Secrets Manager beside DynamoDB), as
/// `template.yaml`'s `GenerateSecretString` creates it at deploy: a random `hash_key`, nothing else.
/// Returns its ARN.
pub async fn fresh_server_secret() -> String {
    let hash_key: String = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    fresh_secret(&serde_json::json!({ "hash_key": hash_key }).to_string()).await
}

/// A fresh secret holding `secret_string` on the test server; returns its ARN.
pub async fn fresh_secret(secret_string: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&shared::aws::sdk_config(Some(&dynamodb_endpoint())).unwrap());
    let out = client
        .create_secret()
        .name(format!("ping-as-test-{}", uuid::Uuid::new_v4()))
        .secret_string(secret_string)
        .send()
        .await
        .expect("create a secret on the test server");
    out.arn().expect("a created secret has an ARN").to_owned()
}

/// A Lambda function binary set up as the Lambda service starts it (environment cleared, the
/// runtime API at `127.0.0.1:runtime_port`, a region and dummy credentials); add its own settings.
pub fn lambda_command(bin: &std::path::Path, name: &str, runtime_port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(bin);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{runtime_port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    command
}

pub struct TestServer {
    pub server: local_server::Server,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    pub counter: Arc<RequestCounter>,
    pub base: String,
    /// A client that keeps no cookies: the device, or a browser that started nothing.
    pub http: reqwest::Client,
    /// The raw DynamoDB store, for scanning the table.
    pub dynamo: Option<Arc<DynamoStore>>,
    /// The browser each flow was started in (flows answer only their own browser).
    browsers: Mutex<HashMap<String, reqwest::Client>>,
    /// Every audit event the server recorded (and logged).
    pub audit: Arc<shared::audit::Recorder>,
}

/// A browser of its own at a source address of the loopback network (127.0.0.0/8), so that
/// tests can be "other networks" to the server's limits.
pub fn browser_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
        .build()
        .unwrap()
}

/// A browser of its own: a client that keeps its cookies (as a browser, curl with a jar, or
/// `requests.Session` does) and does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

/// One of the two ways to present client credentials, or none (public client).
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    Public(&'a str),
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
}

impl TestServer {
    pub async fn start(kind: StoreKind) -> Self {
        Self::start_with(kind, |_| {}).await
    }

    /// Starts with settings changed by `configure` (e.g. the bypass options).
    pub async fn start_with(kind: StoreKind, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start_inner(kind, configure, None).await
    }

    /// Starts on a fresh DynamoDB table reached through `faults` (see `faults`).
    pub async fn start_with_faults(faults: &faults::Faults) -> Self {
        Self::start_inner(StoreKind::DynamoDb, |_| {}, Some(faulty_dynamo_table(faults).await)).await
    }

    /// Starts on a fresh DynamoDB table reached through `wire`, which counts the requests the SDK
    /// sends (see `metered_dynamo_table`, `budget::Meter`).
    pub async fn start_metered(wire: &faults::Faults) -> Self {
        Self::start_metered_with(wire, |_| {}).await
    }

    /// `start_metered` with settings changed by `configure`.
    pub async fn start_metered_with(wire: &faults::Faults, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start_inner(StoreKind::DynamoDb, configure, Some(metered_dynamo_table(wire).await)).await
    }

    async fn start_inner(kind: StoreKind, configure: impl FnOnce(&mut Settings), table: Option<DynamoStore>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (inner, dynamo): (Arc<dyn Store>, Option<Arc<DynamoStore>>) = match (kind, table) {
            (StoreKind::Memory, _) => (Arc::new(MemoryStore::new()), None),
            (StoreKind::DynamoDb, table) => {
                let store = Arc::new(match table {
                    Some(table) => table,
                    None => fresh_dynamo_table().await,
                });
                (store.clone(), Some(store))
            }
        };
        let (counting, counter) = CountingStore::new(inner);
        let settings = Settings {
            public_base_url: base.clone(),
            default_environment_id: ENV.to_owned(),
            store: match kind {
                StoreKind::Memory => StoreSettings::Memory,
                StoreKind::DynamoDb => StoreSettings::DynamoDb { table: "test".into(), endpoint_url: None },
            },
            directory_cache_ms: 60_000,
            server_secret_id: None,
            secrets_endpoint_url: None,
            server_secret_version: None,
            hash_key: None,
            signing_keys: None,
            previous_signing_keys: Vec::new(),
            bypass_activation_code_confirmation: false,
            bypass_authorization_approval: false,
            jwks_allow_loopback: false,
            flow_api_holds_verified_codes: false,
            mtls_base_url: None,
            device_authorization_limits: Default::default(),
        };
        let mut settings = settings;
        configure(&mut settings);
        let clock = Arc::new(ManualClock::new(shared::clock::SystemClock.now_ms()));
        let hasher = Hasher::new(&shared::clock::random_bytes::<32>(&OsRandom));
        let audit = Arc::new(shared::audit::Recorder::default());
        let app = Arc::new(
            App::new(settings, Arc::new(counting), hasher, Signer::generate(), clock.clone(), Arc::new(OsRandom))
                .with_audit(audit.clone()),
        );
        demo::seed(&app).await.expect("seed demo data");
        for extra in test_apps(&app) {
            app.store.put_application(&extra).await.expect("seed test apps");
        }
        app.invalidate_applications(ENV);
        let server = local_server::Server::serve(app.clone(), listener).expect("serve");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        counter.take();
        audit.take();
        Self { server, app, clock, counter, base, http, dynamo, browsers: Mutex::new(HashMap::new()), audit }
    }

    /// The browser that started `flow` (a cookie-less client for flows this harness did not start).
    pub fn browser_of(&self, flow: &str) -> reqwest::Client {
        self.browsers.lock().unwrap().get(flow).cloned().unwrap_or_else(|| self.http.clone())
    }

    /// Notes that `flow` belongs to `browser`.
    pub fn remember_flow(&self, flow: &str, browser: &reqwest::Client) {
        self.browsers.lock().unwrap().insert(flow.to_owned(), browser.clone());
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Advances the server's clock.
    pub fn advance_s(&self, seconds: i64) {
        self.clock.advance_ms(seconds * 1000);
    }

    /// Store requests per operation since the last call.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.counter.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn device_authorization_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/device_authorization")),
            Dialect::PingFederate => self.url("/as/device_authz.oauth2"),
        }
    }

    pub fn token_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/token")),
            Dialect::PingFederate => self.url("/as/token.oauth2"),
        }
    }

    pub fn jwks_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/jwks")),
            Dialect::PingFederate => self.url("/pf/JWKS"),
        }
    }

    pub fn issuer(&self, dialect: Dialect) -> String {
        self.app.issuer(dialect, ENV)
    }

    /// POSTs a form with client credentials; returns status, headers and JSON body.
    pub async fn post_form(&self, url: &str, auth: Auth<'_>, fields: &[(&str, &str)]) -> Answer {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let mut request = self.http.post(url);
        match auth {
            Auth::Public(id) => form.push(("client_id", id)),
            Auth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            Auth::Basic(id, secret) => {
                request = request.header(AUTHORIZATION, format!("Basic {}", B64_STD.encode(format!("{id}:{secret}"))));
            }
        }
        let body = serde_urlencoded(&form);
        Answer::read(
            request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send().await.expect("send"),
        )
        .await
    }

    pub async fn device_authorization(&self, dialect: Dialect, auth: Auth<'_>, scope: &str) -> Answer {
        self.post_form(&self.device_authorization_url(dialect), auth, &[("scope", scope)]).await
    }

    pub async fn poll(&self, dialect: Dialect, auth: Auth<'_>, device_code: &str) -> Answer {
        self.post_form(&self.token_url(dialect), auth, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)])
            .await
    }

    /// `GET /{env}/device[/{app}]` in a new browser: the new flow's id from the redirect.
    pub async fn start_flow(&self, app_identifier: Option<&str>) -> String {
        self.start_flow_in(&browser(), app_identifier).await
    }

    /// `GET /{env}/device[/{app}]` in `browser`.
    pub async fn start_flow_in(&self, browser: &reqwest::Client, app_identifier: Option<&str>) -> String {
        let path = match app_identifier {
            Some(app) => format!("/{ENV}/device/{app}"),
            None => format!("/{ENV}/device"),
        };
        let response = browser.get(self.url(&path)).send().await.expect("send");
        assert_eq!(response.status(), 302, "flow start redirects to the sign-on UI");
        let flow = Self::flow_of(&response);
        self.remember_flow(&flow, browser);
        flow
    }

    pub async fn get_flow(&self, flow_id: &str) -> Answer {
        let browser = self.browser_of(flow_id);
        Answer::read(browser.get(self.url(&format!("/{ENV}/flows/{flow_id}"))).send().await.expect("send")).await
    }

    /// POSTs a flow action with its vnd media type, from the flow's browser.
    pub async fn flow_action(&self, flow_id: &str, action: &str, body: Value) -> Answer {
        self.flow_action_in(&self.browser_of(flow_id), flow_id, action, body).await
    }

    /// POSTs a flow action from `browser`.
    pub async fn flow_action_in(&self, browser: &reqwest::Client, flow_id: &str, action: &str, body: Value) -> Answer {
        let response = browser
            .post(self.url(&format!("/{ENV}/flows/{flow_id}")))
            .header(CONTENT_TYPE, format!("application/vnd.pingidentity.{action}+json"))
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        Answer::read(response).await
    }

    /// The person's whole side: start, sign on as the demo user, enter the code, answer.
    pub async fn approve(&self, user_code: &str, accept: bool) -> String {
        let flow = self.start_flow(None).await;
        let login = self
            .flow_action(
                &flow,
                "usernamePassword.check",
                serde_json::json!({"username": "demo", "password": "demo-password"}),
            )
            .await;
        assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
        let verify = self
            .flow_action(&flow, "deviceAuthGrant.userCode.verify", serde_json::json!({"userCode": user_code}))
            .await;
        assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
        let consent = self.flow_action(&flow, "deviceAuthGrant.consent", serde_json::json!({"accept": accept})).await;
        assert_eq!(consent.json["status"], if accept { "COMPLETED" } else { "FAILED" }, "{consent:?}");
        flow
    }
}

/// Test-only applications beside the demo ones.
fn test_apps(app: &App) -> Vec<Application> {
    let mut post = Application::new(ENV, POST_APP_ID, "Post TV");
    post.grant_types = vec![GrantType::DeviceCode];
    post.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    post.set_secret(&app.hasher, POST_APP_SECRET, None);
    post.scopes = vec!["openid".into(), "email".into()];
    post.token_signing_alg = SigningAlg::RS256;
    post.user_code_length = 10;
    let mut worker = Application::new(ENV, WORKER_APP_ID, "Worker");
    worker.grant_types = vec![GrantType::ClientCredentials];
    worker.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    worker.set_secret(&app.hasher, WORKER_APP_SECRET, None);
    let mut spa = Application::new(ENV, SPA_APP_ID, "Demo SPA");
    spa.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    spa.pkce_enforcement = shared::model::PkceEnforcement::S256Required;
    spa.redirect_uris = vec![demo::WEB_APP_REDIRECT_URI.to_owned(), "https://spa.example/cb?x=1".to_owned()];
    spa.scopes = vec!["openid".into(), "profile".into(), "email".into()];
    // The one app whose code flow has a consent step (ours; PingOne has none).
    spa.require_consent = true;
    vec![post, worker, spa]
}

fn serde_urlencoded(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&shared::http::encode_query_value(k));
        out.push('=');
        out.push_str(&shared::http::encode_query_value(v));
    }
    out
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self { status, headers, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OAuth error with status, code and exact description.
    pub fn assert_oauth_error(&self, status: u16, error: &str, description: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.json["error"], error, "{self:?}");
        assert_eq!(self.json["error_description"], description, "{self:?}");
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
    }

    pub fn str(&self, field: &str) -> String {
        self.json[field].as_str().unwrap_or_else(|| panic!("{field} missing in {self:?}")).to_owned()
    }
}

/// Verifies a JWT against a JWKS document the way a resource server would, returning its header
/// `typ` and claims.
pub fn verify_jwt(token: &str, jwks: &Value, issuer: &str, audience: &str) -> (String, Value) {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
    let header = decode_header(token).expect("JWT header");
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("JWKS");
    let kid = header.kid.as_deref().expect("kid on every token");
    let jwk = set.find(kid).expect("token kid is published in the JWKS");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.leeway = 0;
    let data =
        decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).expect("valid signature and claims");
    (header.typ.unwrap_or_default(), data.claims)
}

/// RFC 7636 Appendix B's verifier and S256 challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl TestServer {
    pub fn authorize_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/authorize")),
            Dialect::PingFederate => self.url("/as/authorization.oauth2"),
        }
    }

    /// GET on the authorization endpoint with `query` in a new browser; the answer, not followed.
    pub async fn authorize(&self, dialect: Dialect, query: &[(&str, &str)]) -> reqwest::Response {
        self.authorize_in(&browser(), dialect, query).await
    }

    /// GET on the authorization endpoint from `browser`; a flow it starts is that browser's.
    pub async fn authorize_in(
        &self,
        browser: &reqwest::Client,
        dialect: Dialect,
        query: &[(&str, &str)],
    ) -> reqwest::Response {
        let response = browser.get(self.authorize_url(dialect)).query(query).send().await.expect("send");
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
        if location.contains("/signon/?flowId=") {
            self.remember_flow(&Self::flow_of(&response), browser);
        }
        response
    }

    /// The flow id in a redirect to the sign-on pages.
    pub fn flow_of(response: &reqwest::Response) -> String {
        let location = response.headers()["location"].to_str().unwrap();
        location.split("flowId=").nth(1).expect("a flowId").split('&').next().unwrap().to_owned()
    }

    /// Signs the demo user on and consents through the flow API, then resumes: the redirect.
    pub async fn complete_authorization(&self, flow: &str, accept: bool) -> String {
        let login = self
            .flow_action(
                flow,
                "usernamePassword.check",
                serde_json::json!({"username": "demo", "password": "demo-password"}),
            )
            .await;
        if login.json["status"] == "CONSENT_REQUIRED" {
            let consent = self.flow_action(flow, "consent", serde_json::json!({"accept": accept})).await;
            assert_eq!(consent.json["status"], if accept { "COMPLETED" } else { "FAILED" }, "{consent:?}");
        } else {
            assert_eq!(login.json["status"], "COMPLETED", "{login:?}");
        }
        let resume =
            self.browser_of(flow).get(self.url(&format!("/{ENV}/as/resume?flowId={flow}"))).send().await.expect("send");
        assert_eq!(resume.status(), 302);
        resume.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A whole code flow for `client_id` (PKCE S256 with the RFC 7636 verifier): the code.
    pub async fn code_for(&self, dialect: Dialect, client_id: &str, scope: &str) -> String {
        let response = self
            .authorize(
                dialect,
                &[
                    ("response_type", "code"),
                    ("client_id", client_id),
                    ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
                    ("scope", scope),
                    ("state", "st"),
                    ("nonce", "n-0S6_WzA2Mj"),
                    ("code_challenge", PKCE_CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(response.status(), 302);
        let flow = Self::flow_of(&response);
        let back = self.complete_authorization(&flow, true).await;
        query_value(&back, "code").expect("a code in the redirect")
    }

    /// Redeems a code with PKCE.
    pub async fn redeem(&self, dialect: Dialect, auth: Auth<'_>, code: &str) -> Answer {
        self.post_form(
            &self.token_url(dialect),
            auth,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await
    }
}

/// A query parameter of a URL, decoded.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url_params(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn url_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                shared::http::Params::parse(format!("x={s}").as_bytes())
                    .ok()
                    .and_then(|p| p.get("x").map(str::to_owned))
            };
            (k.to_owned(), decode(v).unwrap_or_default())
        })
        .collect()
}
