//! Property tests for the parsers at the edge of the server: whatever a client sends, no parser
//! panics; and where the server writes a value it later reads back (forms, Basic credentials,
//! cookies, user codes, flow ids, sealed values, refresh tokens, redirects, paths), reading gives
//! back what was written.
//!
//! Case counts are modest (256, fewer where signing or the whole dispatch runs) so the file runs
//! in seconds in a debug build.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::Method;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use shared::browser::{BrowserKey, BROWSER_COOKIE};
use shared::client_auth::authenticate;
use shared::clock::{Clock, ManualClock, SeededRandom, SystemClock};
use shared::codes::{UserCode, USER_CODE_ALPHABET, USER_CODE_LENGTHS};
use shared::demo;
use shared::endpoints::flows::parse_action;
use shared::flows::{new_flow_id, open_flow_id, FlowAction, Purpose as FlowPurpose};
use shared::grants::authorization_code::{code_redirect, redeem, validate, AuthorizeError};
use shared::grants::{refresh, requested_scopes, requested_scopes_within};
use shared::hashing::{Hasher, Purpose};
use shared::http::{redirect, ParamError, Params, Request};
use shared::model::{Application, GrantType, PkceEnforcement, SigningAlg, TokenEndpointAuthMethod};
use shared::routes::{find, Verb, ROUTES};
use shared::sessions::{Session, SESSION_COOKIE, SESSION_LIFETIME_S};
use shared::store::memory::MemoryStore;
use shared::store::GrantKind;
use shared::tokens::Signer;
use shared::{App, Dialect, Settings};

const ENV: &str = shared::config::DEFAULT_ENVIRONMENT_ID;
const OTHER_ENV: &str = "11111111-2222-4333-8444-555555555555";
const FORM: &str = "application/x-www-form-urlencoded";

// Ids no demo record has (`...b1` is the demo admin worker).
/// Authorization code client, PKCE optional.
const PKCE_APP: &str = "00000000-0000-4000-8000-0000000000a7";
/// Authorization code client, PKCE S256 required.
const S256_APP: &str = "00000000-0000-4000-8000-0000000000a8";
/// A `private_key_jwt` client that registered no keys: no assertion authenticates it.
const JWT_APP: &str = "00000000-0000-4000-8000-0000000000a9";
const REDIRECTS: [&str; 2] = ["https://app.example/cb", "https://app.example/cb?x=1"];
const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

// ---------------------------------------------------------------------------------------------
// Fixture: one App (memory store, demo data, fixed hash key) for the whole file.

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let settings = Settings::from_lookup(|_| None).expect("default settings");
        let app = App::new(
            settings,
            Arc::new(MemoryStore::new()),
            Hasher::new(&[7u8; 32]),
            Signer::generate(),
            Arc::new(ManualClock::new(SystemClock.now_ms())),
            Arc::new(SeededRandom::new(1)),
        );
        block_on(async {
            demo::seed(&app).await.expect("seed demo data");
            for (id, enforcement) in [(PKCE_APP, PkceEnforcement::Optional), (S256_APP, PkceEnforcement::S256Required)]
            {
                let mut a = Application::new(ENV, id, "PKCE app");
                a.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
                a.redirect_uris = REDIRECTS.map(String::from).to_vec();
                a.scopes = SCOPES.map(String::from).to_vec();
                a.pkce_enforcement = enforcement;
                app.store.put_application(&a).await.expect("put app");
            }
            let mut jwt = Application::new(ENV, JWT_APP, "JWT app");
            jwt.grant_types = vec![GrantType::ClientCredentials];
            jwt.token_endpoint_auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
            app.store.put_application(&jwt).await.expect("put app");
            app.invalidate_applications(ENV);
        });
        app
    })
}

/// Client authentication as the token endpoint does it, in the PingOne dialect of `ENV`.
async fn token_client(req: &Request, params: &Params) -> Result<Application, shared::error::OAuthError> {
    let params_of_path = shared::context::PathParams { environment_id: ENV.to_owned(), values: Vec::new() };
    let ctx = shared::context::Context {
        app: app(),
        dialect: Dialect::PingOne,
        pattern: "/{envId}/as/token",
        params: params_of_path,
    };
    authenticate(&ctx, shared::app::Endpoint::Token, req, params).await
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

fn issuer() -> String {
    app().issuer(Dialect::PingOne, ENV)
}

fn form_of(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn params_of(pairs: &[(&str, Option<String>)]) -> Params {
    let present: Vec<(String, String)> =
        pairs.iter().filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v))).collect();
    Params::parse(form_of(&present).as_bytes()).expect("no repeated names")
}

fn request_with(headers: &[(http::header::HeaderName, &str)]) -> Request {
    let mut req = Request::new(Method::POST, "/x");
    for (name, value) in headers {
        req.headers.append(name.clone(), HeaderValue::from_str(value).expect("header value"));
    }
    req
}

/// The query of a redirect URL as pairs.
fn query_pairs(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn encode_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// RFC 7636 §4.1 / §4.2: 43 to 128 unreserved characters.
fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn s256(verifier: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()))
}

const ALL_PURPOSES: [Purpose; 10] = [
    Purpose::DeviceCode,
    Purpose::UserCode,
    Purpose::ClientSecret,
    Purpose::RefreshToken,
    Purpose::FlowId,
    Purpose::SessionCookie,
    Purpose::Csrf,
    Purpose::AuthorizationCode,
    Purpose::FlowBinding,
    Purpose::Counter,
];

// ---------------------------------------------------------------------------------------------
// Strategies.

/// Bytes shaped like forms and query strings (to hit repeats, `%` escapes and `+`), or anything.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "[abc=&%+0-9A-Fz]{0,64}".prop_map(String::into_bytes),
        any::<String>().prop_map(String::into_bytes),
    ]
}

/// Strings with a bias to what matters at the edge: ASCII punctuation, escapes, unicode.
fn edgy_string() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,40}", "[a-zA-Z0-9%+&=:;,/?#. \t-]{0,40}"]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let key = || {
        prop_oneof![
            Just("username".to_owned()),
            Just("password".to_owned()),
            Just("userCode".to_owned()),
            Just("accept".to_owned()),
            any::<String>(),
        ]
    };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        prop_oneof![Just(String::new()), any::<String>()].prop_map(Value::String),
    ];
    let nested = leaf.clone().prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        3 => prop::collection::btree_map(key(), leaf, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => nested,
    ]
}

fn flow_action_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(shared::flows::ACTION_LOGIN.to_owned()),
        Just(shared::flows::ACTION_USER_CODE.to_owned()),
        Just(shared::flows::ACTION_CONSENT.to_owned()),
        Just(shared::flows::ACTION_AUTHORIZE_CONSENT.to_owned()),
        Just("USERNAMEPASSWORD.CHECK".to_owned()),
        "[ -~]{0,30}",
    ]
}

fn uuid_text() -> impl Strategy<Value = (String, String)> {
    // (as written in the path, canonical form)
    (any::<[u8; 16]>(), 0..4u8).prop_map(|(bytes, form)| {
        let uuid = uuid::Uuid::from_bytes(bytes);
        let canonical = uuid.hyphenated().to_string();
        let written = match form {
            0 => canonical.clone(),
            1 => canonical.to_uppercase(),
            2 => uuid.simple().to_string(),
            _ => uuid.braced().to_string(),
        };
        (written, canonical)
    })
}

/// A path made of segments from the route table, UUIDs, escapes and junk.
fn arb_path() -> impl Strategy<Value = String> {
    let literals: BTreeSet<&'static str> =
        ROUTES.iter().flat_map(|r| r.path.trim_start_matches('/').split('/')).filter(|s| !s.starts_with('{')).collect();
    let literals: Vec<String> = literals.into_iter().map(str::to_owned).collect();
    let segment = prop_oneof![
        prop::sample::select(literals),
        uuid_text().prop_map(|(w, _)| w),
        Just(String::new()),
        "[a-z%+&=0-9A-F~.-]{0,12}",
        any::<String>(),
    ];
    prop_oneof![
        3 => prop::collection::vec(segment, 0..6).prop_map(|s| format!("/{}", s.join("/"))),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Forms and query strings (shared::http::Params).

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any body parses or is refused for a repeated name, and what parses is what was sent.
    #[test]
    fn forms_never_panic_and_keep_what_was_sent(raw in form_bytes()) {
        let decoded: Vec<(String, String)> = form_urlencoded::parse(&raw).into_owned().collect();
        match Params::parse(&raw) {
            Ok(params) => {
                for (k, v) in &decoded {
                    let expected = (!v.is_empty()).then_some(v.as_str());
                    prop_assert_eq!(params.get(k), expected);
                }
            }
            Err(ParamError::Repeated(name)) => {
                prop_assert!(decoded.iter().filter(|(k, _)| *k == name).count() >= 2, "{} is not repeated", name);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
        // The same through the request: as a form body and as a query string (if it is text).
        let mut req = Request::new(Method::POST, "/x");
        req.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
        req.body = raw.clone();
        prop_assert_eq!(req.form().is_ok(), Params::parse(&raw).is_ok());
        if let Ok(text) = std::str::from_utf8(&raw) {
            let req = Request::new(Method::GET, &format!("/x?{text}"));
            prop_assert_eq!(req.query_params().is_ok(), Params::parse(text.as_bytes()).is_ok());
        }
    }

    /// A form written with `form_urlencoded::Serializer` (no repeated names) reads back as the
    /// same pairs, in a body and in a query string; empty values read as omitted (RFC 6749 §3.1).
    #[test]
    fn serialized_forms_round_trip(pairs in prop::collection::btree_map(edgy_string(), edgy_string(), 0..8)) {
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        let encoded = form_of(&pairs);
        let mut body = Request::new(Method::POST, "/as/token");
        body.headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM));
        body.body = encoded.clone().into_bytes();
        let query = Request::new(Method::GET, &format!("/as/authorize?{encoded}"));
        let parsed = [body.form().unwrap(), query.query_params().unwrap(), Params::parse(encoded.as_bytes()).unwrap()];
        for params in parsed {
            for (k, v) in &pairs {
                prop_assert_eq!(params.get(k), (!v.is_empty()).then_some(v.as_str()), "{}", k);
            }
            let absent = format!("{}#absent", pairs.iter().map(|(k, _)| k.as_str()).collect::<String>());
            prop_assert_eq!(params.get(&absent), None);
        }
    }

    /// A name sent twice is refused, whatever the values (RFC 6749 §3.1).
    #[test]
    fn repeated_names_are_refused(
        name in edgy_string(), first in edgy_string(), second in edgy_string(),
        others in prop::collection::vec(("[a-z]{1,3}", edgy_string()), 0..3),
    ) {
        let mut pairs: Vec<(String, String)> = others.into_iter().filter(|(k, _)| *k != name).collect();
        pairs.insert(0, (name.clone(), first));
        pairs.push((name.clone(), second));
        // Distinct other names, so the only repeat is `name`'s.
        let mut seen = BTreeSet::new();
        pairs.retain(|(k, _)| k == &name || seen.insert(k.clone()));
        prop_assert_eq!(Params::parse(form_of(&pairs).as_bytes()).unwrap_err(), ParamError::Repeated(name));
    }

    /// A body that is not declared a form is never read as one.
    #[test]
    fn only_declared_forms_are_forms(content_type in "[ -~]{0,40}", raw in form_bytes()) {
        let mut req = Request::new(Method::POST, "/x");
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            req.headers.insert(CONTENT_TYPE, v);
        }
        req.body = raw;
        let declared = req.content_type().as_deref() == Some(FORM);
        match req.form() {
            Err(ParamError::NotAForm) => prop_assert!(!declared),
            other => {
                prop_assert!(declared);
                prop_assert_eq!(other.is_ok(), Params::parse(&req.body).is_ok());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON bodies of the flow API (shared::endpoints::flows::parse_action).

fn flow_request(action: &str, body: Vec<u8>) -> Request {
    let mut req = Request::new(Method::POST, "/x");
    if let Ok(v) = HeaderValue::from_str(&format!("application/vnd.pingidentity.{action}+json")) {
        req.headers.insert(CONTENT_TYPE, v);
    }
    req.body = body;
    req
}

fn non_empty_text(body: &Value, name: &str) -> Option<String> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// What `parse_action` must make of a JSON `body` sent for `action`.
fn check_action(
    action: &str,
    body: &Value,
    parsed: Result<FlowAction, shared::error::FlowError>,
) -> Result<(), TestCaseError> {
    let a = action.to_ascii_lowercase();
    let is = |name: &str| a == name.to_ascii_lowercase();
    match parsed {
        Ok(FlowAction::UsernamePasswordCheck { username, password }) => {
            prop_assert!(is(shared::flows::ACTION_LOGIN));
            prop_assert_eq!(Some(username), non_empty_text(body, "username"));
            prop_assert_eq!(Some(password), non_empty_text(body, "password"));
        }
        Ok(FlowAction::UserCodeVerify { user_code, .. }) => {
            prop_assert!(is(shared::flows::ACTION_USER_CODE));
            prop_assert_eq!(Some(user_code), non_empty_text(body, "userCode"));
        }
        Ok(FlowAction::Consent { accept }) => {
            prop_assert!(is(shared::flows::ACTION_CONSENT) || is(shared::flows::ACTION_AUTHORIZE_CONSENT));
            prop_assert_eq!(body.get("accept"), Some(&Value::Bool(accept)));
        }
        Ok(other) => prop_assert!(false, "a JSON body made {:?}", other),
        Err(e) => {
            prop_assert_eq!(e.status.as_u16(), 400);
            let complete = if is(shared::flows::ACTION_LOGIN) {
                non_empty_text(body, "username").is_some() && non_empty_text(body, "password").is_some()
            } else if is(shared::flows::ACTION_USER_CODE) {
                non_empty_text(body, "userCode").is_some()
            } else if is(shared::flows::ACTION_CONSENT) || is(shared::flows::ACTION_AUTHORIZE_CONSENT) {
                matches!(body.get("accept"), Some(Value::Bool(_)))
            } else {
                false
            };
            prop_assert!(!complete, "a complete {} body was refused: {:?}", action, e.message);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes under any action: parsed only when they are JSON, else a 400.
    #[test]
    fn flow_bodies_of_arbitrary_bytes_never_panic(action in flow_action_name(), body in form_bytes()) {
        let parsed = parse_action(&flow_request(&action, body.clone()));
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => check_action(&action, &value, parsed)?,
            Err(_) => prop_assert_eq!(parsed.map(|_| ()).unwrap_err().status.as_u16(), 400),
        }
    }

    /// Arbitrary JSON values: an action exactly when its fields are there and of the right type,
    /// and then with the values sent.
    #[test]
    fn flow_bodies_of_arbitrary_json_parse_to_what_was_sent(action in flow_action_name(), body in arb_json()) {
        let parsed = parse_action(&flow_request(&action, serde_json::to_vec(&body).unwrap()));
        check_action(&action, &body, parsed)?;
    }

    /// The bodies PingOne clients send read back exactly.
    #[test]
    fn flow_bodies_round_trip(username in ".+", password in ".+", code in ".+", accept in any::<bool>()) {
        let sent = json!({"username": username, "password": password});
        let parsed = parse_action(&flow_request(shared::flows::ACTION_LOGIN, sent.to_string().into_bytes()));
        let ok = matches!(
            parsed,
            Ok(FlowAction::UsernamePasswordCheck { username: ref u, password: ref p })
                if *u == username && *p == password
        );
        prop_assert!(ok, "login body misread: {:?}", parsed);
        let sent = json!({"userCode": code});
        let parsed = parse_action(&flow_request(shared::flows::ACTION_USER_CODE, sent.to_string().into_bytes()));
        let ok = matches!(parsed, Ok(FlowAction::UserCodeVerify { ref user_code, .. }) if *user_code == code);
        prop_assert!(ok, "user code body misread: {:?}", parsed);
        for action in [shared::flows::ACTION_CONSENT, shared::flows::ACTION_AUTHORIZE_CONSENT] {
            let parsed = parse_action(&flow_request(action, json!({"accept": accept}).to_string().into_bytes()));
            let ok = matches!(parsed, Ok(FlowAction::Consent { accept: a }) if a == accept);
            prop_assert!(ok, "consent body misread: {:?}", parsed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic credentials (Request::basic_credentials) and client_assertion (client_auth).

fn basic_header(id: &str, secret: &str) -> String {
    // RFC 6749 §2.3.1: each part application/x-www-form-urlencoded, then RFC 7617.
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", B64_STD.encode(format!("{}:{}", enc(id), enc(secret))))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any Authorization value: `None` unless the scheme is Basic.
    #[test]
    fn basic_headers_never_panic(raw in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        "(Basic|basic|BASIC|Bearer|) {0,2}[ -~]{0,60}".prop_map(String::into_bytes),
    ]) {
        let Ok(value) = HeaderValue::from_bytes(&raw) else { return Ok(()) };
        let mut req = Request::new(Method::POST, "/x");
        req.headers.insert(AUTHORIZATION, value);
        let result = req.basic_credentials();
        let text = std::str::from_utf8(&raw).ok();
        let scheme_is_basic =
            text.and_then(|t| t.split_once(' ')).is_some_and(|(s, _)| s.eq_ignore_ascii_case("basic"));
        prop_assert_eq!(result.is_some(), scheme_is_basic);
    }

    /// Basic with arbitrary decoded bytes: credentials exactly when they are UTF-8 with a colon.
    #[test]
    fn basic_payloads_decode_when_well_formed(payload in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "[a-z%:+&=]{0,20}".prop_map(String::into_bytes),
    ], scheme in "(Basic|basic|BASIC)", pad in " {0,2}") {
        let header = format!("{scheme} {pad}{}{pad}", B64_STD.encode(&payload));
        let result = request_with(&[(AUTHORIZATION, &header)]).basic_credentials();
        let well_formed = std::str::from_utf8(&payload).is_ok_and(|t| t.contains(':'));
        prop_assert!(result.is_some(), "a Basic header was not taken for Basic");
        prop_assert_eq!(result.is_some_and(|r| r.is_ok()), well_formed);
    }

    /// id:secret, each form-urlencoded then base64 (RFC 6749 §2.3.1), decodes to the same pair.
    #[test]
    fn basic_credentials_round_trip(id in edgy_string(), secret in edgy_string()) {
        let req = request_with(&[(AUTHORIZATION, &basic_header(&id, &secret))]);
        prop_assert_eq!(req.basic_credentials(), Some(Ok((id, secret))));
    }

    /// Credentials sent without the form-urlencoding (as many clients do) but holding nothing
    /// that encoding would decode (`%`, `+`) read as sent: no character ends a part early.
    #[test]
    fn unencoded_basic_credentials_read_as_sent(
        id in "[A-Za-z0-9!$&'()*,;=@._~-]{0,16}", secret in "[A-Za-z0-9!$&'()*,;=:@._~-]{0,16}",
    ) {
        let header = format!("Basic {}", B64_STD.encode(format!("{id}:{secret}")));
        let req = request_with(&[(AUTHORIZATION, &header)]);
        prop_assert_eq!(req.basic_credentials(), Some(Ok((id, secret))));
    }

    /// Only the registered secret authenticates the demo web app over Basic.
    #[test]
    fn basic_authentication_takes_only_the_secret(secret in edgy_string()) {
        let req = request_with(&[(AUTHORIZATION, &basic_header(demo::WEB_APP_ID, &secret))]);
        let result = block_on(token_client(&req, &Params::default()));
        match result {
            Ok(application) => {
                prop_assert_eq!(secret.as_str(), demo::WEB_APP_SECRET);
                prop_assert_eq!(application.client_id.as_str(), demo::WEB_APP_ID);
            }
            Err(e) => {
                prop_assert_ne!(secret.as_str(), demo::WEB_APP_SECRET);
                prop_assert_eq!((e.error, e.www_authenticate.is_some()), ("invalid_client", true));
            }
        }
    }

    /// A client_assertion (not verified yet) never authenticates and never panics, whatever it
    /// holds and whoever it names.
    #[test]
    fn client_assertions_are_refused(
        assertion in prop_oneof![
            "\\PC{1,200}",
            (any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Vec<u8>>())
                .prop_map(|(h, c, s)| format!("{}.{}.{}", B64.encode(h), B64.encode(c), B64.encode(s))),
            any::<String>().prop_map(|c| format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#), B64.encode(c))),
        ],
        assertion_type in prop_oneof![
            Just(Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned())),
            Just(None),
            any::<String>().prop_map(Some),
        ],
        client_id in prop_oneof![
            Just(None),
            Just(Some(JWT_APP.to_owned())),
            Just(Some(demo::DEVICE_APP_ID.to_owned())),
            Just(Some(demo::WEB_APP_ID.to_owned())),
            any::<String>().prop_map(Some),
        ],
        secret in prop_oneof![Just(None), Just(Some(demo::WEB_APP_SECRET.to_owned()))],
        basic in any::<bool>(),
    ) {
        let params = params_of(&[
            ("client_assertion", Some(assertion)),
            ("client_assertion_type", assertion_type),
            ("client_id", client_id),
            ("client_secret", secret),
        ]);
        let req = if basic {
            request_with(&[(AUTHORIZATION, &basic_header(demo::WEB_APP_ID, demo::WEB_APP_SECRET))])
        } else {
            Request::new(Method::POST, "/as/token")
        };
        let refused = block_on(token_client(&req, &params)).map(|a| a.client_id).unwrap_err();
        prop_assert!(["invalid_client", "invalid_request"].contains(&refused.error), "{}", refused.error);
        if basic {
            prop_assert_eq!(refused.error, "invalid_request", "Basic and an assertion are two methods");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cookies (Request::cookie, Session, BrowserKey).

fn cookie_request(header: &str) -> Request {
    request_with(&[(COOKIE, header)])
}

/// The `name=value` a Set-Cookie value sets.
fn set_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any Cookie header: a value found is one the header holds as `name=value`.
    #[test]
    fn cookie_headers_never_panic(
        raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            "[a-zA-Z_=; \"]{0,60}".prop_map(String::into_bytes),
        ],
        name in prop_oneof![Just(SESSION_COOKIE.to_owned()), Just(BROWSER_COOKIE.to_owned()), "[a-z=; ]{0,4}"],
    ) {
        let Ok(value) = HeaderValue::from_bytes(&raw) else { return Ok(()) };
        let mut req = Request::new(Method::GET, "/x");
        req.headers.append(COOKIE, value);
        if let Some(found) = req.cookie(&name) {
            let text = std::str::from_utf8(&raw).unwrap();
            prop_assert!(text.contains(&format!("{name}={found}")), "{:?} not in {:?}", found, text);
        }
        // Neither reading a session nor a browser key panics on it.
        prop_assert!(Session::from_request(app(), ENV, &req).is_none());
        let key = BrowserKey::of(app(), &req);
        let held = req.cookie(BROWSER_COOKIE).filter(|v| (43..=64).contains(&v.len()));
        prop_assert_eq!(key.is_new(), held.is_none());
    }

    /// The `ST` cookie the server sets reads back as the same session, among other cookies, and
    /// only in its own environment.
    #[test]
    fn session_cookies_round_trip(
        sid in any::<String>(), sub in any::<String>(), username in any::<String>(),
        age in 0..SESSION_LIFETIME_S, left in 1..SESSION_LIFETIME_S, other in "[a-z]{1,8}=[a-z0-9]{0,8}",
    ) {
        let now = app().clock.now_s();
        let session = Session { sid, sub, username, auth_time: now - age, exp: now + left };
        let set = session.set_cookie(app(), ENV);
        prop_assert!(HeaderValue::from_str(&set).is_ok(), "the Set-Cookie value is not a header value: {}", set);
        let req = cookie_request(&format!("{other}; {}; z=1", set_pair(&set)));
        prop_assert_eq!(Session::from_request(app(), ENV, &req), Some(session));
        prop_assert_eq!(Session::from_request(app(), OTHER_ENV, &req), None);
        // An expired session does not read back.
        let expired = Session { exp: now, ..Session::from_request(app(), ENV, &req).unwrap() };
        let req = cookie_request(set_pair(&expired.set_cookie(app(), ENV)));
        prop_assert_eq!(Session::from_request(app(), ENV, &req), None);
    }

    /// The browser key cookie a response sets is the key the next request holds: same CSRF
    /// tokens, and the token passes only with the key.
    #[test]
    fn browser_key_cookies_round_trip(context in any::<String>(), other in "[a-z]{1,8}=[a-z0-9]{0,8}") {
        let fresh = BrowserKey::of(app(), &Request::new(Method::GET, "/x"));
        prop_assert!(fresh.is_new());
        let response = fresh.finish(app(), http::Response::new(Vec::new()));
        let set = response.headers().get(SET_COOKIE).expect("a new key is set").to_str().unwrap().to_owned();
        let req = cookie_request(&format!("{other}; {}", set_pair(&set)));
        let back = BrowserKey::of(app(), &req);
        prop_assert!(!back.is_new());
        let token = fresh.csrf_token(app(), &context);
        prop_assert_eq!(back.csrf_token(app(), &context), token.clone());
        let form = params_of(&[("csrf", Some(token))]);
        prop_assert!(back.csrf_ok(app(), &context, &form));
        prop_assert!(!fresh.csrf_ok(app(), &context, &form), "a key only just drawn passes no form");
        prop_assert!(back.finish(app(), http::Response::new(Vec::new())).headers().get(SET_COOKIE).is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// User codes (shared::codes::UserCode).

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text: a code only of the alphabet and an allowed length; parsing is idempotent and
    /// the display form reads back.
    #[test]
    fn user_codes_never_panic_and_normalise_idempotently(typed in prop_oneof![
        any::<String>(),
        "[bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ \\-aeiou1\u{3000}\u{a0}ß]{0,16}",
    ]) {
        if let Some(code) = UserCode::parse(&typed) {
            let canonical = code.canonical();
            prop_assert!(USER_CODE_LENGTHS.contains(&canonical.len()));
            prop_assert!(canonical.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            let again = UserCode::parse(canonical);
            prop_assert_eq!(again.as_ref().map(UserCode::canonical), Some(canonical));
            let shown = UserCode::parse(&code.display());
            prop_assert_eq!(shown.as_ref().map(UserCode::canonical), Some(canonical));
        }
    }

    /// A generated code of any allowed length: its display form, lower case, and variants with
    /// dashes and (unicode) spaces anywhere all normalise to it.
    #[test]
    fn generated_user_codes_read_back_however_typed(
        seed in any::<u64>(), len in USER_CODE_LENGTHS,
        lower in prop::collection::vec(any::<bool>(), 12),
        separators in prop::collection::vec(
            (0..13usize, prop::sample::select(vec!["-", " ", "  ", "\t", "\u{3000}", " - "])),
            0..4,
        ),
    ) {
        let code = UserCode::generate(&SeededRandom::new(seed), len);
        prop_assert_eq!(code.canonical().len(), len);
        prop_assert!(code.canonical().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        let display = code.display();
        prop_assert_eq!(display.replace('-', ""), code.canonical());
        let mut variant: String = code
            .canonical()
            .chars()
            .zip(&lower)
            .map(|(c, l)| if *l { c.to_ascii_lowercase() } else { c })
            .collect();
        for (at, sep) in separators {
            let at = variant.char_indices().nth(at).map_or(variant.len(), |(i, _)| i);
            variant.insert_str(at, sep);
        }
        for typed in [display.clone(), display.to_lowercase(), variant.clone(), format!(" {display} ")] {
            let parsed = UserCode::parse(&typed);
            prop_assert_eq!(parsed.as_ref().map(UserCode::canonical), Some(code.canonical()), "{:?}", typed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Flow ids (shared::flows::flow_id).

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An arbitrary string is never a flow.
    #[test]
    fn arbitrary_flow_ids_never_open(flow_id in prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| B64.encode(b)),
    ], env in prop_oneof![Just(ENV.to_owned()), any::<String>()]) {
        prop_assert!(open_flow_id(app(), &env, &flow_id).is_none());
    }

    /// A created flow id opens to the flow it was made for: environment, application, purpose,
    /// time, and the browser that started it; in no other environment, and no other browser owns
    /// it. Any change to the id makes it unknown.
    #[test]
    fn created_flow_ids_open_back(
        application_id in prop_oneof![
            Just(None),
            any::<[u8; 16]>().prop_map(|b| Some(uuid::Uuid::from_bytes(b).hyphenated().to_string())),
            any::<[u8; 16]>().prop_map(|b| Some(uuid::Uuid::from_bytes(b).hyphenated().to_string().to_uppercase())),
            any::<[u8; 16]>().prop_map(|b| Some(uuid::Uuid::from_bytes(b).simple().to_string())),
            any::<String>().prop_map(Some),
        ],
        authorization in any::<bool>(), key in "[A-Za-z0-9_-]{43,64}", flip in any::<prop::sample::Index>(),
    ) {
        let purpose = if authorization { FlowPurpose::Authorization } else { FlowPurpose::Device };
        let browser = BrowserKey::of(app(), &cookie_request(&format!("{BROWSER_COOKIE}={key}")));
        let stranger = BrowserKey::of(app(), &cookie_request(&format!("{BROWSER_COOKIE}={key}x")));
        prop_assert!(!browser.is_new());
        let flow_id = new_flow_id(app(), ENV, application_id.as_deref(), purpose, &browser);
        let started = open_flow_id(app(), ENV, &flow_id).expect("a flow id made here opens");
        prop_assert_eq!(&started.flow.flow_id, &flow_id);
        prop_assert_eq!(started.flow.environment_id.as_str(), ENV);
        prop_assert_eq!(&started.flow.application_id, &application_id);
        prop_assert_eq!(started.flow.created_ms, app().clock.now_ms());
        prop_assert_eq!(started.purpose, purpose);
        prop_assert!(started.belongs_to(app(), &browser));
        prop_assert!(!started.belongs_to(app(), &stranger));
        prop_assert!(open_flow_id(app(), OTHER_ENV, &flow_id).is_none());
        // Change one character of the id to another base64url character.
        let mut bytes = flow_id.clone().into_bytes();
        let i = flip.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        if B64.decode(&changed).ok() != B64.decode(&flow_id).ok() {
            prop_assert!(open_flow_id(app(), ENV, &changed).is_none(), "a changed flow id opened");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sealed and MAC'd values (Hasher, refresh tokens, signed tokens).

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// seal -> open gives the payload, for its purpose and context only; any flipped bit, any
    /// arbitrary string never opens.
    #[test]
    fn sealed_values_round_trip_and_resist_tampering(
        purpose in prop::sample::select(ALL_PURPOSES.to_vec()), other in prop::sample::select(ALL_PURPOSES.to_vec()),
        context in any::<String>(), payload in prop::collection::vec(any::<u8>(), 0..96),
        bit in any::<prop::sample::Index>(), junk in any::<String>(),
    ) {
        let h = &app().hasher;
        let sealed = h.seal(purpose, &context, &payload);
        prop_assert_eq!(h.open(purpose, &context, &sealed), Some(payload.clone()));
        if other != purpose {
            prop_assert_eq!(h.open(other, &context, &sealed), None);
        }
        prop_assert_eq!(h.open(purpose, &format!("{context}x"), &sealed), None);
        let mut raw = B64.decode(&sealed).unwrap();
        let i = bit.index(raw.len() * 8);
        raw[i / 8] ^= 1 << (i % 8);
        prop_assert_eq!(h.open(purpose, &context, &B64.encode(&raw)), None);
        prop_assert_eq!(h.open(purpose, &context, &B64.encode(&raw[..raw.len() - 1])), None);
        prop_assert_eq!(h.open(purpose, &context, &junk), None);
        // A different key opens nothing.
        prop_assert_eq!(Hasher::new(&[8u8; 32]).open(purpose, &context, &sealed), None);
    }

    /// digest -> verify for the same value only; arbitrary digests never verify.
    #[test]
    fn digests_verify_only_their_value(
        purpose in prop::sample::select(ALL_PURPOSES.to_vec()), scope in any::<String>(),
        value in any::<String>(), other in any::<String>(), junk in any::<String>(),
    ) {
        let h = &app().hasher;
        let digest = h.digest(purpose, &scope, &value);
        prop_assert!(h.verify(purpose, &scope, &value, &digest));
        prop_assert_eq!(h.verify(purpose, &scope, &other, &digest), other == value);
        prop_assert!(!h.verify(purpose, &scope, &value, &junk) || junk == digest);
    }

    /// Refresh tokens: issue -> parse names the same family and generation; a grant id parse
    /// cannot split is refused rather than misread; arbitrary or altered tokens never parse.
    #[test]
    fn refresh_tokens_round_trip(
        device in any::<bool>(), grant_id in prop_oneof!["[A-Za-z0-9_-]{0,48}", any::<String>()],
        generation in any::<u32>(), junk in any::<String>(), flip in any::<prop::sample::Index>(),
    ) {
        let kind = if device { GrantKind::Device } else { GrantKind::Code };
        let token = refresh::issue(app(), kind, &grant_id, generation);
        match refresh::parse(app(), &token) {
            Some(parsed) => prop_assert_eq!(parsed, (kind, grant_id.clone(), generation)),
            None => prop_assert!(grant_id.contains('.'), "a refresh token made here did not parse: {}", token),
        }
        prop_assert_eq!(refresh::parse(app(), &junk), None);
        let mut chars: Vec<char> = token.chars().collect();
        let i = flip.index(chars.len());
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        let parsed = refresh::parse(app(), &altered);
        // Two base64 strings can decode alike (unused trailing bits are refused, so they cannot).
        prop_assert!(parsed.is_none(), "an altered refresh token parsed: {}", altered);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Signed tokens: sign -> verify gives the claims back (both algorithms); arbitrary or
    /// JWT-shaped junk never verifies.
    #[test]
    fn signed_tokens_round_trip(
        rs256 in any::<bool>(), claim in any::<String>(), junk in any::<String>(),
        header in arb_json(), body in arb_json(),
    ) {
        let signer = &app().signer;
        let exp = SystemClock.now_s() + 3600;
        let claims = json!({"x": claim, "exp": exp});
        let alg = if rs256 { SigningAlg::RS256 } else { SigningAlg::ES256 };
        let token = signer.sign(alg, "at+jwt", &claims);
        prop_assert_eq!(signer.verify(&token), Some(claims.clone()));
        prop_assert_eq!(signer.verify_signature(&token), Some(claims));
        prop_assert_eq!(signer.verify(&junk), None);
        prop_assert_eq!(signer.verify_signature(&junk), None);
        let token_header = token.split('.').next().and_then(|h| B64.decode(h).ok()).unwrap();
        let kid = serde_json::from_slice::<Value>(&token_header).unwrap()["kid"].clone();
        let mut header = header;
        if let Value::Object(m) = &mut header {
            m.insert("kid".into(), kid);
        }
        let (header, body) = (B64.encode(header.to_string()), B64.encode(body.to_string()));
        let forged = format!("{header}.{body}.{}", B64.encode(junk.as_bytes()));
        prop_assert_eq!(signer.verify_signature(&forged), None);
        // The token's own signature on other claims.
        let sig = token.rsplit('.').next().unwrap();
        let spliced = format!("{}.{body}.{sig}", token.split('.').next().unwrap());
        prop_assert_eq!(signer.verify_signature(&spliced), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Path matching (shared::routes::find).

fn verb_method(verb: Verb) -> Method {
    match verb {
        Verb::Get => Method::GET,
        Verb::Post => Method::POST,
        Verb::Put => Method::PUT,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
    }
}

/// The route's path with `{envId}` as `env` and every other `{name}` as `value(name)`.
fn fill(pattern: &str, env: &str, value: impl Fn(&str) -> String) -> String {
    let mut path = String::new();
    for segment in pattern.trim_start_matches('/').split('/') {
        path.push('/');
        match segment {
            "{envId}" => path.push_str(env),
            s if s.starts_with('{') && s.ends_with('}') => path.push_str(&value(&s[1..s.len() - 1])),
            s => path.push_str(s),
        }
    }
    path
}

/// The `{name}` parameters of a route's path other than `{envId}`.
fn parameter_names(pattern: &str) -> Vec<&str> {
    pattern.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).filter(|name| *name != "envId").collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any path, any method: a route found matches the path segment by segment and the method;
    /// the methods offered otherwise are other methods.
    #[test]
    fn paths_never_panic(
        path in arb_path(),
        method in prop::sample::select(vec![Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::OPTIONS]),
    ) {
        match find(&method, &path, ENV) {
            Ok((route, params)) => {
                let pattern: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
                let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                prop_assert_eq!(pattern.len(), actual.len());
                for (p, a) in pattern.iter().zip(&actual) {
                    prop_assert!(p.starts_with('{') || p == a, "{} vs {}", p, a);
                }
                let head_on_get = route.verb == Verb::Get && method == Method::HEAD;
                prop_assert!(verb_method(route.verb) == method || head_on_get, "{:?} for {}", route.verb, method);
                prop_assert!(uuid::Uuid::try_parse(&params.environment_id).is_ok());
                prop_assert_eq!(params.flow_id().is_some(), route.path.contains("{flowId}"));
                prop_assert!(params.flow_id() != Some("") && params.app_identifier() != Some(""));
            }
            Err(allowed) => {
                for verb in allowed {
                    prop_assert!(verb_method(verb) != method && !(verb == Verb::Get && method == Method::HEAD));
                }
            }
        }
    }

    /// Every route, its parameters filled in (percent-encoded), finds itself with the same
    /// parameters; HEAD finds the GET routes; an environment id spelled other than canonically
    /// finds nothing.
    #[test]
    fn filled_in_routes_find_themselves(
        index in 0..ROUTES.len(), (env, canonical) in uuid_text(),
        flow in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        app_identifier in any::<String>().prop_filter("not empty, not qr", |s| !s.is_empty() && s != "qr"),
        resource in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ) {
        let route = &ROUTES[index];
        // `{appId}`, `{userId}`, ... (the management API's) take `resource`.
        let value = |name: &str| match name {
            "flowId" => flow.clone(),
            "appIdentifier" => app_identifier.clone(),
            _ => resource.clone(),
        };
        let path = fill(route.path, &env, |name| encode_segment(&value(name)));
        let mut methods = vec![verb_method(route.verb)];
        if route.verb == Verb::Get {
            methods.push(Method::HEAD);
        }
        for method in methods {
            // Only the canonical spelling of an environment id routes (the issuer must equal
            // the URL the client used, OIDC Discovery §4.3): any other is not a route.
            if route.path.contains("{envId}") && env != canonical {
                prop_assert!(matches!(find(&method, &path, ENV), Err(allowed) if allowed.is_empty()), "{}", path);
                continue;
            }
            let (found, params) = find(&method, &path, ENV).map_err(|e| TestCaseError::fail(format!("{path}: {e:?}")))?;
            prop_assert!(std::ptr::eq(found, route), "{} found {} for {}", path, found.path, route.path);
            let expected_env = if route.path.contains("{envId}") { canonical.as_str() } else { ENV };
            prop_assert_eq!(params.environment_id.as_str(), expected_env);
            prop_assert_eq!(params.flow_id(), route.path.contains("{flowId}").then_some(flow.as_str()));
            let expected_app = route.path.contains("{appIdentifier}").then_some(app_identifier.as_str());
            prop_assert_eq!(params.app_identifier(), expected_app);
            for name in parameter_names(route.path) {
                let expected = value(name);
                prop_assert_eq!(params.get(name), Some(expected.as_str()), "{} in {}", name, path);
            }
            prop_assert_eq!(params.values.len(), parameter_names(route.path).len());
        }
    }

    /// A parameter written with only the characters a path segment may hold unescaped (RFC
    /// 3986 pchar, no `%`) reads back as written.
    #[test]
    fn unescaped_path_parameters_read_as_written(value in "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,24}") {
        let flows = format!("/{OTHER_ENV}/flows/{value}");
        let (_, params) = find(&Method::GET, &flows, ENV).map_err(|e| TestCaseError::fail(format!("{flows}: {e:?}")))?;
        prop_assert_eq!(params.flow_id(), Some(value.as_str()));
        if value != "qr" {
            let device = format!("/{OTHER_ENV}/device/{value}");
            let (_, params) =
                find(&Method::GET, &device, ENV).map_err(|e| TestCaseError::fail(format!("{device}: {e:?}")))?;
            prop_assert_eq!(params.app_identifier(), Some(value.as_str()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization requests: redirect URIs, scope, PKCE (grants::authorization_code, grants).

fn client_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some(PKCE_APP.to_owned())),
        2 => Just(Some(S256_APP.to_owned())),
        1 => Just(Some(demo::WEB_APP_ID.to_owned())),
        1 => Just(Some(demo::DEVICE_APP_ID.to_owned())),
        1 => Just(None),
        1 => any::<String>().prop_map(Some),
    ]
}

fn redirect_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(REDIRECTS.to_vec()).prop_map(|u| Some(u.to_owned())),
        1 => Just(Some(demo::WEB_APP_REDIRECT_URI.to_owned())),
        1 => Just(Some("https://app.example/cb/".to_owned())),
        1 => Just(Some("HTTPS://app.example/cb".to_owned())),
        1 => Just(None),
        1 => any::<String>().prop_map(Some),
    ]
}

fn scope_strategy() -> impl Strategy<Value = Option<String>> {
    let token = prop_oneof![
        4 => prop::sample::select(SCOPES.to_vec()).prop_map(String::from),
        1 => "[ -~]{0,8}",
        1 => any::<String>(),
    ];
    prop_oneof![
        1 => Just(None),
        4 => prop::collection::vec(token, 0..5).prop_map(|t| Some(t.join(" "))),
    ]
}

fn optional(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![1 => Just(None), 3 => s.prop_map(Some)]
}

fn challenge_strategy() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9._~-]{40,130}", "[A-Za-z0-9._~+/= -]{43,128}", any::<String>()]
}

fn registered(client_id: &str) -> Vec<&'static str> {
    match client_id {
        PKCE_APP | S256_APP => REDIRECTS.to_vec(),
        demo::WEB_APP_ID => vec![demo::WEB_APP_REDIRECT_URI],
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any authorization request: a page unless the client and its redirect URI are registered
    /// (exact match); errors redirect there with `error`, `iss` and the `state`; an accepted
    /// request holds only well-formed, allowed values.
    #[test]
    fn authorization_requests_never_panic(
        client_id in client_strategy(), redirect_uri in redirect_strategy(),
        response_type in prop_oneof![
            1 => Just(None), 6 => Just(Some("code".to_owned())), 1 => edgy_string().prop_map(Some),
        ],
        scope in scope_strategy(), state in optional(edgy_string()), nonce in optional(edgy_string()),
        challenge in optional(challenge_strategy()),
        method in prop_oneof![
            Just(None), Just(Some("S256".to_owned())), Just(Some("plain".to_owned())), edgy_string().prop_map(Some),
        ],
        max_age in optional(prop_oneof!["-?[0-9]{1,20}", edgy_string()]),
        prompt in optional(prop_oneof![
            Just("none".to_owned()), Just("login".to_owned()), Just("consent".to_owned()), edgy_string(),
        ]),
        acr in optional(prop_oneof![Just("Single_Factor".to_owned()), edgy_string()]),
        login_hint in optional(edgy_string()),
    ) {
        let params = params_of(&[
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", response_type),
            ("scope", scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", method),
            ("max_age", max_age),
            ("prompt", prompt),
            ("acr_values", acr),
            ("login_hint", login_hint),
        ]);
        let iss = issuer();
        let trusted =
            params.get("client_id").zip(params.get("redirect_uri")).is_some_and(|(c, r)| registered(c).contains(&r));
        match block_on(validate(app(), ENV, issuer(), &params)) {
            Err(AuthorizeError::Page(_)) => prop_assert!(!trusted, "a registered client and URI got a page"),
            Err(AuthorizeError::Unavailable) => prop_assert!(false, "the memory store is always reachable"),
            Err(AuthorizeError::Redirect(url)) => {
                prop_assert!(trusted, "redirected to an unregistered URI: {}", url);
                let redirect_uri = params.get("redirect_uri").unwrap();
                let join = if redirect_uri.contains('?') { "&" } else { "?" };
                prop_assert!(url.starts_with(&format!("{redirect_uri}{join}")), "{} is not at {}", url, redirect_uri);
                let pairs = query_pairs(&url);
                prop_assert!(pair(&pairs, "error").is_some());
                prop_assert_eq!(pair(&pairs, "iss"), Some(iss.as_str()));
                let state = params.get("state").filter(|s| s.len() <= 2048);
                prop_assert_eq!(pair(&pairs, "state"), state);
                prop_assert!(redirect(&url).headers().get(LOCATION).is_some(), "the Location header was dropped");
            }
            Ok((application, request, _)) => {
                prop_assert!(trusted);
                prop_assert_eq!(params.get("response_type"), Some("code"));
                prop_assert_eq!(Some(request.redirect_uri.as_str()), params.get("redirect_uri"));
                prop_assert!(request.scopes.iter().all(|s| application.scopes.contains(s)));
                if let Some(challenge) = &request.code_challenge {
                    prop_assert!(is_pkce_value(challenge), "accepted challenge {:?}", challenge);
                    let method = request.code_challenge_method.as_deref();
                    prop_assert!(method == Some("S256") || method == Some("plain"));
                    if application.pkce_enforcement == PkceEnforcement::S256Required {
                        prop_assert_eq!(method, Some("S256"));
                    }
                } else {
                    prop_assert_eq!(application.pkce_enforcement, PkceEnforcement::Optional);
                }
            }
        }
    }

    /// A code_challenge is taken exactly when it is 43-128 unreserved characters (RFC 7636 §4.2).
    #[test]
    fn code_challenges_are_checked(challenge in challenge_strategy(), s256_app in any::<bool>()) {
        let params = params_of(&[
            ("client_id", Some(if s256_app { S256_APP } else { PKCE_APP }.to_owned())),
            ("redirect_uri", Some(REDIRECTS[0].to_owned())),
            ("response_type", Some("code".to_owned())),
            ("code_challenge", Some(challenge.clone())),
            ("code_challenge_method", Some("S256".to_owned())),
        ]);
        let result = block_on(validate(app(), ENV, issuer(), &params));
        // An empty value is no challenge: refused only where PKCE is required.
        let expected_ok = if challenge.is_empty() { !s256_app } else { is_pkce_value(&challenge) };
        prop_assert_eq!(result.is_ok(), expected_ok, "{:?}", challenge);
    }

    /// The `state` and the code reach the client unchanged, at the registered URI (code
    /// redirect) and on errors (error redirect).
    #[test]
    fn redirects_carry_state_and_code_unchanged(
        state in "\\PC{1,64}", code in any::<String>(), with_query in any::<bool>(),
    ) {
        let iss = issuer();
        let redirect_uri = REDIRECTS[usize::from(with_query)];
        let mut pairs = vec![
            ("client_id", Some(PKCE_APP.to_owned())),
            ("redirect_uri", Some(redirect_uri.to_owned())),
            ("response_type", Some("code".to_owned())),
            ("state", Some(state.clone())),
        ];
        let (_, request, _) = block_on(validate(app(), ENV, issuer(), &params_of(&pairs)))
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let url = code_redirect(&request, &code);
        prop_assert!(url.starts_with(redirect_uri));
        let got = query_pairs(&url);
        prop_assert_eq!(pair(&got, "code"), Some(code.as_str()));
        prop_assert_eq!(pair(&got, "state"), Some(state.as_str()));
        prop_assert_eq!(pair(&got, "iss"), Some(iss.as_str()));
        prop_assert_eq!(pair(&got, "x"), with_query.then_some("1"));
        prop_assert!(redirect(&url).headers().get(LOCATION).is_some());
        pairs[2].1 = Some("token".to_owned());
        let Err(AuthorizeError::Redirect(url)) = block_on(validate(app(), ENV, issuer(), &params_of(&pairs))) else {
            return Err(TestCaseError::fail("response_type=token was not refused at the redirect URI"));
        };
        let got = query_pairs(&url);
        prop_assert_eq!(pair(&got, "error"), Some("unsupported_response_type"));
        prop_assert_eq!(pair(&got, "state"), Some(state.as_str()));
    }

    /// `scope`: accepted exactly when every space-separated token is one the client may ask for;
    /// then each once, in order. Narrowing on refresh gives a subset of what was granted.
    #[test]
    fn scopes_parse_to_allowed_sets(
        scope in scope_strategy(), granted in prop::sample::subsequence(SCOPES.to_vec(), 0..=4),
    ) {
        let mut application = Application::new(ENV, "c", "c");
        application.scopes = SCOPES.map(String::from).to_vec();
        let tokens: Vec<&str> = scope.as_deref().unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
        let allowed = tokens.iter().all(|t| SCOPES.contains(t));
        match requested_scopes(&application, scope.as_deref()) {
            Ok(scopes) => {
                prop_assert!(allowed);
                let mut expected: Vec<String> = Vec::new();
                for t in &tokens {
                    if !expected.iter().any(|e| e == t) {
                        expected.push((*t).to_owned());
                    }
                }
                prop_assert_eq!(scopes, expected);
            }
            Err(e) => {
                prop_assert!(!allowed);
                prop_assert_eq!(e.error, "invalid_scope");
            }
        }
        let granted: Vec<String> = granted.into_iter().map(String::from).collect();
        match requested_scopes_within(&granted, scope.as_deref()) {
            Ok(scopes) => {
                prop_assert!(scopes.iter().all(|s| granted.contains(s)));
                prop_assert!(tokens.is_empty() || scopes.iter().all(|s| tokens.contains(&s.as_str())));
                prop_assert!(tokens.iter().all(|t| granted.iter().any(|g| g == t)));
            }
            Err(e) => {
                prop_assert!(tokens.iter().any(|t| !granted.iter().any(|g| g == t)));
                prop_assert_eq!(e.error, "invalid_scope");
            }
        }
    }

    /// Redeeming an unknown code with any code_verifier is refused, never a panic.
    #[test]
    fn code_verifiers_never_panic(
        code in optional(any::<String>()), verifier in optional(challenge_strategy()),
        redirect_uri in redirect_strategy(),
    ) {
        let params = params_of(&[("code", code), ("code_verifier", verifier), ("redirect_uri", redirect_uri)]);
        let application = block_on(app().application(ENV, PKCE_APP)).unwrap().unwrap();
        let refused = block_on(redeem(app(), issuer(), &application, &params)).map(|_| ()).unwrap_err();
        prop_assert!(["invalid_grant", "invalid_request"].contains(&refused.error), "{}", refused.error);
    }
}

// ---------------------------------------------------------------------------------------------
// The whole edge: any request to any route (shared::routes::dispatch).

fn arb_request() -> impl Strategy<Value = Request> {
    let content_type = prop_oneof![
        Just(Some(FORM.to_owned())),
        Just(Some("application/json".to_owned())),
        flow_action_name().prop_map(|a| Some(format!("application/vnd.pingidentity.{a}+json"))),
        Just(None),
        "[ -~]{0,30}".prop_map(Some),
    ];
    let authorization = prop_oneof![
        Just(None),
        (edgy_string(), edgy_string()).prop_map(|(i, s)| Some(basic_header(&i, &s))),
        Just(Some(basic_header(demo::WEB_APP_ID, demo::WEB_APP_SECRET))),
        "[ -~]{0,40}".prop_map(|t| Some(format!("Bearer {t}"))),
        "[ -~]{0,40}".prop_map(Some),
    ];
    let body = prop_oneof![
        form_bytes(),
        (client_strategy(), redirect_strategy(), scope_strategy(), optional(edgy_string()), optional(edgy_string()))
            .prop_map(|(c, r, s, t, g)| form_of(
                &[("client_id", c), ("redirect_uri", r), ("scope", s), ("token", t), ("grant_type", g)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                    .collect::<Vec<_>>()
            )
            .into_bytes()),
        arb_json().prop_map(|v| v.to_string().into_bytes()),
    ];
    let query = prop_oneof![
        Just(None),
        "[ -~]{0,60}".prop_map(Some),
        (client_strategy(), redirect_strategy(), scope_strategy(), optional(edgy_string())).prop_map(
            |(c, r, s, st)| Some(form_of(
                &[
                    ("client_id", c),
                    ("redirect_uri", r),
                    ("scope", s),
                    ("state", st),
                    ("response_type", Some("code".to_owned()))
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect::<Vec<_>>()
            ))
        ),
    ];
    let path = prop_oneof![
        (0..ROUTES.len(), uuid_text(), "[A-Za-z0-9_%-]{1,40}", prop_oneof![Just("tv".to_owned()), "[a-z%-]{1,8}"])
            .prop_map(|(i, (env, _), flow, other)| {
                fill(ROUTES[i].path, &env, |name| if name == "flowId" { flow.clone() } else { other.clone() })
            }),
        arb_path(),
    ];
    let method = prop::sample::select(vec![Method::GET, Method::POST, Method::HEAD, Method::PUT]);
    let cookie = optional("[ -~]{0,80}");
    (method, path, query, content_type, authorization, cookie, body).prop_map(
        |(method, path, query, ct, auth, cookie, body)| {
            let mut req = Request::new(method, "/");
            req.path = path;
            req.query = query;
            for (name, value) in [(CONTENT_TYPE, ct), (AUTHORIZATION, auth), (COOKIE, cookie)] {
                if let Some(v) = value.and_then(|v: String| HeaderValue::from_str(&v).ok()) {
                    req.headers.insert(name, v);
                }
            }
            req.body = body;
            req.source_ip = Some(std::net::IpAddr::from([192, 0, 2, 1]));
            req
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any request through the route table gets an answer, never a panic or a server error.
    #[test]
    fn any_request_gets_an_answer(req in arb_request()) {
        let path = req.path.clone();
        let response = block_on(shared::routes::dispatch(app(), req));
        let body = String::from_utf8_lossy(response.body()).into_owned();
        prop_assert!(!response.status().is_server_error(), "{} answered {}: {}", path, response.status(), body);
    }
}

/// The minimal cases the properties above found (both fixed in the parser):
/// a raw `&` ended a path parameter and a Basic credential part early, because the value was
/// decoded as a form pair (`x=...`) and `&` separates form pairs.
#[test]
fn found_raw_ampersands_are_kept() {
    let (_, params) = find(&Method::GET, &format!("/{OTHER_ENV}/flows/&"), ENV).expect("a flow route");
    assert_eq!(params.flow_id(), Some("&"));
    let (_, params) = find(&Method::GET, &format!("/{OTHER_ENV}/device/tv&x=1"), ENV).expect("a device route");
    assert_eq!(params.app_identifier(), Some("tv&x=1"), "was read as the app 'tv'");
    let secret = format!("{}&anything", demo::WEB_APP_SECRET);
    let header = format!("Basic {}", B64_STD.encode(format!("{}:{secret}", demo::WEB_APP_ID)));
    let req = request_with(&[(AUTHORIZATION, &header)]);
    assert_eq!(req.basic_credentials(), Some(Ok((demo::WEB_APP_ID.to_owned(), secret))));
    let refused = block_on(token_client(&req, &Params::default())).map(|a| a.client_id).unwrap_err();
    assert_eq!(refused.error, "invalid_client", "the registered secret with a suffix authenticated");
}

#[test]
fn fixture_holds_the_clients_the_properties_use() {
    for id in [PKCE_APP, S256_APP, JWT_APP, demo::WEB_APP_ID, demo::DEVICE_APP_ID] {
        assert!(block_on(app().application(ENV, id)).unwrap().is_some(), "{id}");
    }
    let admin = block_on(app().application(ENV, demo::ADMIN_APP_ID)).unwrap().expect("the demo admin worker");
    assert!(admin.allows(GrantType::ClientCredentials), "no fixture overwrites the demo admin worker");
    assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}
