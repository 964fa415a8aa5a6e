//! Client authentication with JWT assertions (RFC 7523, RFC 7521 §4.2, PING-MGMT §10.2):
//! `PRIVATE_KEY_JWT` (RS, PS, ES 256-512 against the app's `jwks` or `jwksUrl`) and
//! `CLIENT_SECRET_JWT` (HS 256-512 keyed with the app's secret) at every endpoint that
//! authenticates clients (token, device authorization, introspection, revocation) in both
//! dialects on both stores; each claim rule failing alone; hostile tokens (`alg: none`, HS256
//! keyed with the public key, a key of another type or curve, a foreign key); `jti` single use
//! across instances and under a race of 16; the `jwksUrl` cache (300 s), its 10 s refetch
//! cooldown on an unknown `kid`, and a JWKS URL that fails, is slow or is too big.
//!
//! Keys and assertions come from panva's `jose` (`blackbox::jose`, `tests/browser/jose-cli.mjs`),
//! never from the server's code; claim times from the server's manual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blackbox::jose::*;
use blackbox::*;
use futures::future::join_all;
use serde_json::{json, Value};
use shared::clock::OsRandom;
use shared::hashing::Hasher;
use shared::tokens::Signer;
use shared::{App, Dialect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INVALID: &str = "Invalid client or client credentials.";
const ONE_METHOD: &str = "Use only one client authentication method per request.";
const P1: Dialect = Dialect::PingOne;
const PF: Dialect = Dialect::PingFederate;

/// Asserts the one answer to every failed client authentication.
#[track_caller]
fn assert_refused(answer: &Answer, case: &str) {
    let got = (answer.status, answer.json["error"].as_str(), answer.json["error_description"].as_str());
    assert_eq!(got, (401, Some("invalid_client"), Some(INVALID)), "{case}: {answer:?}");
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{case}: {answer:?}");
}

#[track_caller]
fn assert_token(answer: &Answer, case: &str) {
    assert_eq!(answer.status, 200, "{case}: {answer:?}");
    assert!(answer.json["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{case}: {answer:?}");
    assert_eq!(answer.json["token_type"], "Bearer", "{case}: {answer:?}");
}

/// The body of an enabled app with client credentials and device codes, `PRIVATE_KEY_JWT` with
/// an inline JWKS and/or a JWKS URL.
fn private_key_app(name: &str, keys: Option<&Value>, url: Option<&str>) -> Value {
    let mut body = json!({
        "name": name, "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["CLIENT_CREDENTIALS", "DEVICE_CODE"], "tokenEndpointAuthMethod": "PRIVATE_KEY_JWT"
    });
    if let Some(keys) = keys {
        body["jwks"] = Value::String(keys.to_string());
    }
    if let Some(url) = url {
        body["jwksUrl"] = Value::String(url.to_owned());
    }
    body
}

fn secret_jwt_app(name: &str) -> Value {
    json!({
        "name": name, "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["CLIENT_CREDENTIALS", "DEVICE_CODE"], "tokenEndpointAuthMethod": "CLIENT_SECRET_JWT"
    })
}

async fn create(s: &TestServer, admin: &str, body: Value) -> String {
    s.create_app(admin, ENV, body).await["id"].as_str().expect("an app id").to_owned()
}

/// A `CLIENT_SECRET_JWT` app and its secret.
async fn create_secret_jwt_app(s: &TestServer, admin: &str, name: &str) -> (String, String) {
    let id = create(s, admin, secret_jwt_app(name)).await;
    let secret = s.app_secret(admin, ENV, &id).await;
    (id, secret)
}

/// A client_credentials grant authenticated by `assertion` alone.
async fn cc(s: &TestServer, dialect: Dialect, assertion: &str) -> Answer {
    s.post_assertion(&s.token_url(dialect), None, assertion, &[("grant_type", "client_credentials")]).await
}

fn kid_header(public: &Value) -> Value {
    json!({ "kid": kid(public) })
}

// ---------------------------------------------------------------------------------------------
// The accept path.

/// A `PRIVATE_KEY_JWT` app at the four endpoints in both dialects, each `aud` form once, with and
/// without `client_id`; a `CLIENT_SECRET_JWT` app at the token, introspection and device
/// authorization endpoints.
async fn accepted_at_every_endpoint(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let (private, public) = keygen("ES256");
    let id = create(&s, &admin, private_key_app("Signed TV", Some(&jwks(&[&public])), None)).await;
    let (secret_id, secret) = create_secret_jwt_app(&s, &admin, "Secret-signed TV").await;
    let header = kid_header(&public);
    let pk = |aud: Value| sign("ES256", &private, header.clone(), claims(&s, &id, aud));
    for dialect in BOTH_DIALECTS {
        let token_url = s.token_url(dialect);
        let issuer = s.issuer(dialect);
        let case = |what: &str| format!("{dialect:?} {kind:?}: {what}");

        // Token endpoint: aud the token endpoint URL, no client_id.
        let tokens = cc(&s, dialect, &pk(json!(token_url))).await;
        assert_token(&tokens, &case("client_credentials, aud = token endpoint"));
        let access_token = tokens.str("access_token");
        // aud the issuer, client_id present and equal to iss.
        let fields = [("grant_type", "client_credentials")];
        let with_id = s.post_assertion(&token_url, Some(&id), &pk(json!(issuer)), &fields).await;
        assert_token(&with_id, &case("client_credentials, aud = issuer, with client_id"));

        // Device authorization: aud an array naming the endpoint called.
        let device_url = s.device_authorization_url(dialect);
        let aud = json!(["https://elsewhere.example/token", device_url]);
        let grant = s.post_assertion(&device_url, None, &pk(aud), &[("scope", "openid")]).await;
        assert_eq!(grant.status, 200, "{}: {grant:?}", case("device authorization"));
        assert!(grant.json["device_code"].is_string() && grant.json["user_code"].is_string(), "{grant:?}");

        // Introspection of the token just issued: aud the introspection URL.
        let introspection_url = s.introspection_url(dialect);
        let token_field = [("token", access_token.as_str())];
        let seen = s.post_assertion(&introspection_url, None, &pk(json!(introspection_url)), &token_field).await;
        assert_eq!(seen.status, 200, "{}: {seen:?}", case("introspection"));
        assert_eq!(seen.json["active"], true, "{}: {seen:?}", case("introspection"));
        assert_eq!(seen.json["client_id"], id.as_str(), "{seen:?}");

        // Revocation (aud the token endpoint, as RFC 7523 §3 allows), then it is inactive.
        let revocation_url = s.revocation_url(dialect);
        let revoked = s.post_assertion(&revocation_url, Some(&id), &pk(json!(token_url)), &token_field).await;
        assert_eq!(revoked.status, 200, "{}: {revoked:?}", case("revocation"));
        let gone = s.post_assertion(&introspection_url, None, &pk(json!(issuer)), &token_field).await;
        assert_eq!((gone.status, &gone.json["active"]), (200, &json!(false)), "{}: {gone:?}", case("revoked"));

        // CLIENT_SECRET_JWT: HS256 keyed with the secret.
        let hs = |aud: Value| sign("HS256", &secret_key(&secret), json!({}), claims(&s, &secret_id, aud));
        let tokens = cc(&s, dialect, &hs(json!(token_url))).await;
        assert_token(&tokens, &case("CLIENT_SECRET_JWT client_credentials"));
        let token_field = [("token", tokens.json["access_token"].as_str().unwrap())];
        let seen = s.post_assertion(&introspection_url, None, &hs(json!(introspection_url)), &token_field).await;
        assert_eq!((seen.status, &seen.json["active"]), (200, &json!(true)), "{}: {seen:?}", case("HS introspection"));
        let grant = s.post_assertion(&device_url, Some(&secret_id), &hs(json!(issuer)), &[("scope", "openid")]).await;
        assert_eq!(grant.status, 200, "{}: {grant:?}", case("HS device authorization"));
    }
    s.stop().await;
}

/// Each of the twelve algorithms at the token endpoint in both dialects.
async fn every_algorithm_is_accepted(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let pairs: Vec<(&str, Value, Value)> = PRIVATE_KEY_ALGS
        .iter()
        .map(|alg| {
            let (private, public) = keygen(alg);
            (*alg, private, public)
        })
        .collect();
    let publics: Vec<&Value> = pairs.iter().map(|(_, _, public)| public).collect();
    let id = create(&s, &admin, private_key_app("Every alg", Some(&jwks(&publics)), None)).await;
    let (secret_id, secret) = create_secret_jwt_app(&s, &admin, "Every HS").await;
    for dialect in BOTH_DIALECTS {
        for (alg, private, public) in &pairs {
            let assertion = sign(alg, private, kid_header(public), claims(&s, &id, s.token_url(dialect)));
            // The tooling's own check: jose verifies what it signed.
            assert_eq!(verify(&assertion, public, &[alg])["header"]["alg"], *alg);
            assert_token(&cc(&s, dialect, &assertion).await, &format!("{kind:?} {dialect:?} {alg}"));
        }
        for alg in SECRET_ALGS {
            let assertion = sign(alg, &secret_key(&secret), json!({}), claims(&s, &secret_id, s.token_url(dialect)));
            assert_eq!(verify(&assertion, &secret_key(&secret), &[alg])["header"]["alg"], alg);
            assert_token(&cc(&s, dialect, &assertion).await, &format!("{kind:?} {dialect:?} {alg}"));
        }
    }
    s.stop().await;
}

on_both_stores!(accepted_at_every_endpoint, every_algorithm_is_accepted);

// ---------------------------------------------------------------------------------------------
// Each rule failing alone.

/// Keys of the rules test: the app's main ES256 key, an RSA key and a P-384 key in its JWKS, and
/// an attacker's keys nowhere.
struct Keys {
    es: (Value, Value),
    rsa: (Value, Value),
    p384: (Value, Value),
    foreign_es: (Value, Value),
    /// In the JWKS with `"use": "enc"`.
    encryption: (Value, Value),
    /// A 1024-bit RSA key in the JWKS (RFC 7518 §3.3: at least 2048).
    small_rsa: (Value, Value),
}

fn with(mut claims: Value, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    change(claims.as_object_mut().unwrap());
    claims
}

/// `claims` with `name` set to `value`.
fn set(claims: Value, name: &str, value: Value) -> Value {
    with(claims, |c| {
        c.insert(name.to_owned(), value);
    })
}

/// `claims` without `name`.
fn unset(claims: Value, name: &str) -> Value {
    with(claims, |c| {
        c.remove(name);
    })
}

/// Every rule broken alone, each once, on the memory store: 401 `invalid_client`; the same
/// assertion with the rule kept is accepted, so it is the rule that refused.
#[tokio::test]
async fn each_rule_fails_alone() {
    let s = TestServer::start(StoreKind::Memory).await;
    let admin = s.admin_token().await;
    let mut encryption = keygen("ES256");
    encryption.1["use"] = json!("enc");
    let keys = Keys {
        es: keygen("ES256"),
        rsa: keygen("RS256"),
        p384: keygen("ES384"),
        foreign_es: keygen("ES256"),
        encryption,
        small_rsa: keygen_rsa("RS256", 1024),
    };
    let key_set = jwks(&[&keys.es.1, &keys.rsa.1, &keys.p384.1, &keys.encryption.1, &keys.small_rsa.1]);
    let id = create(&s, &admin, private_key_app("Rules", Some(&key_set), None)).await;
    let (secret_id, secret) = create_secret_jwt_app(&s, &admin, "Rules HS").await;
    let token_url = s.token_url(P1);
    let base = || claims(&s, &id, token_url.clone());
    let es = |claims: Value| sign("ES256", &keys.es.0, kid_header(&keys.es.1), claims);
    let now = now_s(&s);

    // Sanity: the unbroken assertion passes, with each key of the JWKS.
    assert_token(&cc(&s, P1, &es(base())).await, "the unbroken assertion");
    assert_token(&cc(&s, P1, &sign("RS256", &keys.rsa.0, kid_header(&keys.rsa.1), base())).await, "RS256 key");
    assert_token(&cc(&s, P1, &sign("ES384", &keys.p384.0, kid_header(&keys.p384.1), base())).await, "ES384 key");
    let hs = |claims: Value| sign("HS256", &secret_key(&secret), json!({}), claims);
    let secret_base = || claims(&s, &secret_id, token_url.clone());
    assert_token(&cc(&s, P1, &hs(secret_base())).await, "the unbroken HS256 assertion");

    let other_id = WORKER_APP_ID;
    let mut cases: Vec<(&str, String)> = vec![
        // aud
        ("aud elsewhere", es(set(base(), "aud", json!("https://elsewhere.example/as/token")))),
        ("aud the other dialect's token endpoint", es(set(base(), "aud", json!(s.token_url(PF))))),
        ("aud the other dialect's issuer", es(set(base(), "aud", json!(s.issuer(PF))))),
        ("aud the token endpoint with a trailing slash", es(set(base(), "aud", json!(format!("{token_url}/"))))),
        ("aud an array of strangers", es(set(base(), "aud", json!(["https://a.example", "https://b.example"])))),
        ("aud empty array", es(set(base(), "aud", json!([])))),
        ("aud missing", es(unset(base(), "aud"))),
        // iss, sub
        ("iss is not sub", es(set(base(), "sub", json!(other_id)))),
        ("sub is not iss", es(set(base(), "iss", json!(other_id)))),
        ("iss missing", es(unset(base(), "iss"))),
        ("sub missing", es(unset(base(), "sub"))),
        (
            "iss = sub = another app",
            es(with(base(), |c| {
                c.insert("iss".into(), json!(other_id));
                c.insert("sub".into(), json!(other_id));
            })),
        ),
        (
            "iss = sub = an unknown client",
            es(with(base(), |c| {
                c.insert("iss".into(), json!("00000000-0000-4000-8000-00000000dead"));
                c.insert("sub".into(), json!("00000000-0000-4000-8000-00000000dead"));
            })),
        ),
        // exp, nbf, iat
        ("expired beyond the skew", es(set(base(), "exp", json!(now - 61)))),
        ("exp missing", es(unset(base(), "exp"))),
        ("exp not a number", es(set(base(), "exp", json!((now + 300).to_string())))),
        ("exp too far ahead", es(set(base(), "exp", json!(now + 3600 + 61)))),
        ("exp a day ahead", es(set(base(), "exp", json!(now + 86_400)))),
        ("nbf in the future", es(set(base(), "nbf", json!(now + 120)))),
        ("iat in the future", es(set(base(), "iat", json!(now + 120)))),
        // jti
        ("jti missing", es(unset(base(), "jti"))),
        ("jti empty", es(set(base(), "jti", json!("")))),
        ("jti longer than 256", es(set(base(), "jti", json!("j".repeat(257))))),
        // keys and algorithms
        ("unknown kid", sign("ES256", &keys.es.0, json!({"kid": "no-such-kid"}), base())),
        (
            "signed by another key under the app's kid",
            sign("ES256", &keys.foreign_es.0, kid_header(&keys.es.1), base()),
        ),
        (
            "signed by another key, kid unknown",
            sign("ES256", &keys.foreign_es.0, kid_header(&keys.foreign_es.1), base()),
        ),
        (
            "another key embedded as a jwk header",
            sign("ES256", &keys.foreign_es.0, json!({"jwk": keys.foreign_es.1}), base()),
        ),
        ("alg none", unsigned(kid_header(&keys.es.1), base())),
        ("alg NONE", unsigned(json!({"kid": kid(&keys.es.1), "alg": "NONE"}), base())),
        ("alg none without kid", unsigned(json!({}), base())),
        (
            "HS256 keyed with the RSA public key (PEM)",
            hs_with_public_key("HS256", &keys.rsa.1, "pem", kid_header(&keys.rsa.1), base()),
        ),
        (
            "HS256 keyed with the RSA public key (DER)",
            hs_with_public_key("HS256", &keys.rsa.1, "der", kid_header(&keys.rsa.1), base()),
        ),
        (
            "HS256 keyed with the EC public key (PEM)",
            hs_with_public_key("HS256", &keys.es.1, "pem", kid_header(&keys.es.1), base()),
        ),
        (
            "HS512 keyed with the RSA public key (PEM), no kid",
            hs_with_public_key("HS512", &keys.rsa.1, "pem", json!({}), base()),
        ),
        ("HS256 for the private-key app", sign("HS256", &secret_key("any-secret"), json!({}), base())),
        ("RS256 under an EC key's kid", sign("RS256", &keys.rsa.0, kid_header(&keys.es.1), base())),
        ("ES256 under an RSA key's kid", sign("ES256", &keys.es.0, kid_header(&keys.rsa.1), base())),
        (
            "ES256 over the P-384 key (curve mismatch)",
            sign_raw("ES256", &keys.p384.0, kid_header(&keys.p384.1), base()),
        ),
        ("ES384 under the P-256 key's kid", sign_raw("ES384", &keys.es.0, kid_header(&keys.es.1), base())),
        ("PS256 under an ES256 kid", sign("PS256", &keys.rsa.0, kid_header(&keys.es.1), base())),
        // Stricter than the contract, as the server is: the JWK's own alg and use, key size, crit.
        ("PS256 with the RSA JWK whose alg is RS256", sign("PS256", &keys.rsa.0, kid_header(&keys.rsa.1), base())),
        ("RS384 with the RSA JWK whose alg is RS256", sign("RS384", &keys.rsa.0, kid_header(&keys.rsa.1), base())),
        ("a key for encryption (use enc)", sign("ES256", &keys.encryption.0, kid_header(&keys.encryption.1), base())),
        ("a 1024-bit RSA key", sign_raw("RS256", &keys.small_rsa.0, kid_header(&keys.small_rsa.1), base())),
        (
            "an unknown crit header",
            sign_raw(
                "ES256",
                &keys.es.0,
                json!({"kid": kid(&keys.es.1), "crit": ["x-unknown"], "x-unknown": 1}),
                base(),
            ),
        ),
        // CLIENT_SECRET_JWT
        ("HS256 with a wrong secret", sign("HS256", &secret_key(&format!("{secret}x")), json!({}), secret_base())),
        ("RS256 for the secret app", sign("RS256", &keys.rsa.0, kid_header(&keys.rsa.1), secret_base())),
        ("ES256 for the secret app", sign("ES256", &keys.es.0, kid_header(&keys.es.1), secret_base())),
        ("alg none for the secret app", unsigned(json!({}), secret_base())),
        ("HS256 for the secret app, aud elsewhere", hs(set(secret_base(), "aud", json!("https://elsewhere.example")))),
        // A CLIENT_SECRET_BASIC app's secret in an assertion: not its method.
        (
            "HS256 keyed with a basic app's secret",
            sign("HS256", &secret_key(WORKER_APP_SECRET), json!({}), claims(&s, WORKER_APP_ID, token_url.clone())),
        ),
        // Not a JWS.
        ("garbage", "garbage".to_owned()),
        ("three empty parts", "..".to_owned()),
        ("empty", String::new()),
    ];
    // A valid signature over other claims: the payload swapped after signing.
    let signed = es(base());
    let other_payload = es(set(base(), "iss", json!(other_id)));
    let parts: Vec<&str> = signed.split('.').collect();
    let swapped = format!("{}.{}.{}", parts[0], other_payload.split('.').nth(1).unwrap(), parts[2]);
    cases.push(("payload swapped after signing", swapped));
    let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() - 4]);
    cases.push(("signature truncated", truncated));

    for (case, assertion) in &cases {
        assert_refused(&cc(&s, P1, assertion).await, case);
    }

    // client_id in the form must be the assertion's iss (RFC 7521 §4.2).
    let fields = [("grant_type", "client_credentials")];
    let other = s.post_assertion(&token_url, Some(other_id), &es(base()), &fields).await;
    assert_refused(&other, "client_id is another app");
    let unknown = s.post_assertion(&token_url, Some("nobody"), &es(base()), &fields).await;
    assert_refused(&unknown, "client_id is unknown");
    // A wrong assertion type with a valid assertion.
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        shared::http::encode_query_value("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
        es(base())
    );
    assert_refused(&post_raw_form(&s.http, &token_url, &body).await, "SAML assertion type");
    // The private-key app without an assertion: its id alone, or a made-up secret.
    let id_only = s.post_form(&token_url, Auth::Public(&id), &fields).await;
    assert_refused(&id_only, "client_id alone");
    assert_refused(&s.post_form(&token_url, Auth::Post(&id, "guess"), &fields).await, "client_secret_post");

    // Replay: the jti is spent until exp, whatever else changes.
    let once = es(base());
    assert_token(&cc(&s, P1, &once).await, "first use");
    assert_refused(&cc(&s, P1, &once).await, "replayed");
    let spent_jti = jti_of(&once);
    let resigned = es(set(base(), "jti", json!(spent_jti)));
    assert_refused(&cc(&s, P1, &resigned).await, "a new assertion with a spent jti");
    let introspection_url = s.introspection_url(P1);
    let elsewhere = s.post_assertion(&introspection_url, None, &once, &[("token", "x")]).await;
    assert_refused(&elsewhere, "replayed at another endpoint");
    assert_refused(&cc(&s, PF, &once).await, "replayed in the other dialect");
    s.advance_s(200);
    assert_refused(&cc(&s, P1, &once).await, "replayed 200 s later, still before exp");
    // HS replay too.
    let hs_once = hs(secret_base());
    assert_token(&cc(&s, P1, &hs_once).await, "HS first use");
    assert_refused(&cc(&s, P1, &hs_once).await, "HS replayed");

    // Still fine after all that: the app works with a fresh assertion.
    assert_token(&cc(&s, P1, &es(base())).await, "after the refusals");
    s.stop().await;
}

fn jti_of(assertion: &str) -> String {
    use base64::Engine;
    let payload = assertion.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["jti"].as_str().unwrap().to_owned()
}

/// The edges of the time rules (60 s of skew, exp at most an hour ahead) and of `jti`'s length.
#[tokio::test]
async fn time_and_length_bounds() {
    let s = TestServer::start(StoreKind::Memory).await;
    let admin = s.admin_token().await;
    let (private, public) = keygen("ES256");
    let id = create(&s, &admin, private_key_app("Bounds", Some(&jwks(&[&public])), None)).await;
    let token_url = s.token_url(P1);
    let es = |claims: Value| sign("ES256", &private, kid_header(&public), claims);
    let now = now_s(&s);
    let claim = |name: &'static str, value: Value| es(set(claims(&s, &id, token_url.clone()), name, value));
    let accepted = [
        ("exp 59 s ago (no iat)", es(set(unset(claims(&s, &id, token_url.clone()), "iat"), "exp", json!(now - 59)))),
        ("exp an hour and 60 s ahead", claim("exp", json!(now + 3660))),
        ("nbf 60 s ahead", claim("nbf", json!(now + 60))),
        ("iat 60 s ahead", claim("iat", json!(now + 60))),
        ("nbf and iat now", es(set(claims(&s, &id, token_url.clone()), "nbf", json!(now)))),
        ("no iat", es(unset(claims(&s, &id, token_url.clone()), "iat"))),
        ("jti of 256 characters", claim("jti", json!("k".repeat(256)))),
    ];
    let refused = [
        ("exp 60 s ago", claim("exp", json!(now - 60))),
        ("exp an hour and 61 s ahead", claim("exp", json!(now + 3661))),
        ("nbf 61 s ahead", claim("nbf", json!(now + 61))),
        ("iat 61 s ahead", claim("iat", json!(now + 61))),
        ("jti of 257 characters", claim("jti", json!("l".repeat(257)))),
    ];
    for (case, assertion) in &accepted {
        assert_token(&cc(&s, P1, assertion).await, case);
    }
    for (case, assertion) in &refused {
        assert_refused(&cc(&s, P1, assertion).await, case);
    }
    // An assertion made now and presented after it expired (by the server's clock).
    let late = es(claims(&s, &id, token_url.clone()));
    s.advance_s(300 + 60);
    assert_refused(&cc(&s, P1, &late).await, "presented after exp + skew");
    s.stop().await;
}

/// Two methods in one request are `invalid_request` (RFC 6749 §5.2), whichever app.
async fn two_methods_are_invalid_request(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let (secret_id, secret) = create_secret_jwt_app(&s, &admin, "Two methods").await;
    let (private, public) = keygen("RS256");
    let id = create(&s, &admin, private_key_app("Two methods PK", Some(&jwks(&[&public])), None)).await;
    for dialect in BOTH_DIALECTS {
        let url = s.token_url(dialect);
        let hs = sign("HS256", &secret_key(&secret), json!({}), claims(&s, &secret_id, url.clone()));
        let pk = sign("RS256", &private, kid_header(&public), claims(&s, &id, url.clone()));
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend(assertion_fields(&hs));
        let post = s.post_form(&url, Auth::Post(&secret_id, &secret), &fields).await;
        post.assert_oauth_error(400, "invalid_request", ONE_METHOD);
        let basic = s.post_form(&url, Auth::Basic(&secret_id, &secret), &fields).await;
        basic.assert_oauth_error(400, "invalid_request", ONE_METHOD);
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend(assertion_fields(&pk));
        let basic = s.post_form(&url, Auth::Basic(&id, "whatever"), &fields).await;
        basic.assert_oauth_error(400, "invalid_request", ONE_METHOD);
        let device = s.post_form(&s.device_authorization_url(dialect), Auth::Post(&id, "whatever"), &fields).await;
        device.assert_oauth_error(400, "invalid_request", ONE_METHOD);
    }
    s.stop().await;
}

on_both_stores!(two_methods_are_invalid_request);

// ---------------------------------------------------------------------------------------------
// Single use across instances and under a race.

/// Another instance of the server over the same store and server secrets (`hash_key`), behind the
/// same public URL, as Lambda runs many: its own directory and JWKS caches. (The harness's own
/// instance has a random hash key of its own, so it is not one of them.)
async fn instance(s: &TestServer, hash_key: &[u8]) -> (local_server::Server, String) {
    let app = Arc::new(App::new(
        s.app.settings.clone(),
        s.app.store.clone(),
        Hasher::new(hash_key),
        Signer::generate(),
        s.clock.clone(),
        Arc::new(OsRandom),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (local_server::Server::serve(app, listener).expect("serve"), base)
}

/// A client_credentials grant at the instance at `base`.
async fn at(s: &TestServer, base: &str, assertion: String) -> Answer {
    let url = format!("{base}/{ENV}/as/token");
    s.post_assertion(&url, None, &assertion, &[("grant_type", "client_credentials")]).await
}

/// An assertion spent at one instance is refused at another (the jti is in the store).
async fn jti_is_single_use_across_instances(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let (private, public) = keygen("PS256");
    let id = create(&s, &admin, private_key_app("Two instances", Some(&jwks(&[&public])), None)).await;
    let hash_key = [7u8; 32];
    let (one, one_base) = instance(&s, &hash_key).await;
    let (two, two_base) = instance(&s, &hash_key).await;
    let pk = || sign("PS256", &private, kid_header(&public), claims(&s, &id, s.token_url(P1)));
    let assertion = pk();
    assert_token(&at(&s, &one_base, assertion.clone()).await, "instance one, first use");
    assert_refused(&at(&s, &two_base, assertion).await, "instance two, replay");
    let other = pk();
    assert_token(&at(&s, &two_base, other.clone()).await, "instance two, a fresh assertion");
    assert_refused(&at(&s, &one_base, other).await, "instance one, replay of instance two's");
    one.stop().await;
    two.stop().await;
    s.stop().await;
}

on_both_stores!(jti_is_single_use_across_instances);

async fn race(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let (private, public) = keygen("ES256");
    let id = create(&s, &admin, private_key_app("Racer", Some(&jwks(&[&public])), None)).await;
    let assertion = sign("ES256", &private, kid_header(&public), claims(&s, &id, s.token_url(P1)));
    let answers = join_all((0..16).map(|_| cc(&s, P1, &assertion))).await;
    let winners = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(winners, 1, "{kind:?}: exactly one token among 16 concurrent uses of one assertion: {answers:?}");
    for loser in answers.iter().filter(|a| a.status != 200) {
        assert_refused(loser, "a racer that lost");
    }
    assert_refused(&cc(&s, P1, &assertion).await, "after the race");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_assertion_sixteen_racers_one_token_on_dynamodb() {
    race(StoreKind::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_assertion_sixteen_racers_one_token_on_memory() {
    race(StoreKind::Memory).await;
}

// ---------------------------------------------------------------------------------------------
// jwksUrl.

/// What a path of the JWKS server answers.
#[derive(Clone)]
struct Served {
    status: u16,
    body: String,
    /// Wait this long before answering.
    delay: Duration,
    /// Send the body a byte at a time over this long (headers at once).
    drip: Option<Duration>,
    /// Send no Content-Length (the body ends when the connection closes).
    no_length: bool,
}

impl Served {
    fn ok(body: &Value) -> Self {
        Self { status: 200, body: body.to_string(), delay: Duration::ZERO, drip: None, no_length: false }
    }
}

/// A loopback HTTP/1.1 server of JWKS documents that counts its hits per path.
#[derive(Clone)]
struct JwksServer {
    base: String,
    served: Arc<Mutex<HashMap<String, Served>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl JwksServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            served: Arc::default(),
            hits: Arc::default(),
        };
        let handler = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handler.clone().answer(stream));
            }
        });
        server
    }

    async fn answer(self, mut stream: tokio::net::TcpStream) {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&request);
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let served = self.served.lock().unwrap().get(&path).cloned();
        let served = served.unwrap_or(Served {
            status: 404,
            body: "{}".into(),
            delay: Duration::ZERO,
            drip: None,
            no_length: false,
        });
        tokio::time::sleep(served.delay).await;
        let length =
            if served.no_length { String::new() } else { format!("Content-Length: {}\r\n", served.body.len()) };
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n",
            served.status
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        match served.drip {
            Some(total) => {
                let step = total / served.body.len().max(1) as u32;
                for byte in served.body.as_bytes() {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(step).await;
                }
            }
            None => {
                let _ = stream.write_all(served.body.as_bytes()).await;
            }
        }
        let _ = stream.shutdown().await;
    }

    fn serve(&self, path: &str, served: Served) {
        self.served.lock().unwrap().insert(path.to_owned(), served);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn loopback_server(kind: StoreKind) -> TestServer {
    TestServer::start_with(kind, |settings| settings.jwks_allow_loopback = true).await
}

/// A fetched JWKS is used for 300 s; an unknown kid refetches at most once per 10 s; a rotation
/// drops the old key.
async fn jwks_url_cache_and_rotation(kind: StoreKind) {
    let s = loopback_server(kind).await;
    let admin = s.admin_token().await;
    let keys = JwksServer::start().await;
    let (a_private, a_public) = keygen("ES256");
    let (b_private, b_public) = keygen("RS256");
    keys.serve("/jwks", Served::ok(&jwks(&[&a_public])));
    let id = create(&s, &admin, private_key_app("Rotating keys", None, Some(&keys.url("/jwks")))).await;
    let a = |dialect: Dialect| sign("ES256", &a_private, kid_header(&a_public), claims(&s, &id, s.token_url(dialect)));
    let b = |dialect: Dialect| sign("RS256", &b_private, kid_header(&b_public), claims(&s, &id, s.token_url(dialect)));
    let before = keys.hits("/jwks");
    assert!(before <= 1, "registering fetches at most once: {before}");

    assert_token(&cc(&s, P1, &a(P1)).await, "key A");
    assert_eq!(keys.hits("/jwks"), 1, "one fetch");
    assert_token(&cc(&s, PF, &a(PF)).await, "key A again, the other dialect");
    assert_eq!(keys.hits("/jwks"), 1, "served from the cache");

    // Rotated to B: within 10 s of the fetch, an unknown kid does not refetch.
    keys.serve("/jwks", Served::ok(&jwks(&[&b_public])));
    assert_refused(&cc(&s, P1, &b(P1)).await, "key B during the cooldown");
    assert_eq!(keys.hits("/jwks"), 1, "no refetch during the cooldown");
    s.advance_s(5);
    assert_refused(&cc(&s, P1, &b(P1)).await, "key B 5 s after the fetch");
    assert_eq!(keys.hits("/jwks"), 1, "still no refetch");
    s.advance_s(6);
    assert_token(&cc(&s, P1, &b(P1)).await, "key B after the cooldown");
    assert_eq!(keys.hits("/jwks"), 2, "one refetch");
    assert_refused(&cc(&s, P1, &a(P1)).await, "key A, gone from the JWKS");
    assert_eq!(keys.hits("/jwks"), 2, "A's kid is unknown again, but within the cooldown");
    let unknown = sign("ES256", &a_private, json!({"kid": "never-published"}), claims(&s, &id, s.token_url(P1)));
    assert_refused(&cc(&s, P1, &unknown).await, "an unknown kid");
    assert_eq!(keys.hits("/jwks"), 2, "unknown kids do not hammer the JWKS URL");
    s.advance_s(11);
    assert_refused(&cc(&s, P1, &a(P1)).await, "key A after another cooldown");
    assert_eq!(keys.hits("/jwks"), 3, "an unknown kid refetches once per 10 s");
    assert_refused(&cc(&s, P1, &a(P1)).await, "key A, at once again");
    assert_eq!(keys.hits("/jwks"), 3);

    // The cache lives 300 s from the last fetch: a known kid then fetches again.
    s.advance_s(280);
    assert_token(&cc(&s, P1, &b(P1)).await, "key B within 300 s");
    assert_eq!(keys.hits("/jwks"), 3, "cached");
    s.advance_s(21);
    assert_token(&cc(&s, P1, &b(P1)).await, "key B after 300 s");
    assert_eq!(keys.hits("/jwks"), 4, "expired cache, refetched");
    s.stop().await;
}

on_both_stores!(jwks_url_cache_and_rotation);

/// A JWKS URL that fails (500, 404, not JSON, no keys), is slow (before answering, or dripping
/// its body), or is over 64 KiB (with or without a Content-Length) is `invalid_client`, never a
/// 500; each served the right key, so that only the failure refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_url_failures_are_invalid_client() {
    let s = loopback_server(StoreKind::Memory).await;
    let admin = s.admin_token().await;
    let keys = JwksServer::start().await;
    let (private, public) = keygen("ES256");
    let good = jwks(&[&public]);
    let mut big = good.clone();
    big["padding"] = json!("p".repeat(70 * 1024));
    let mut just_small = good.clone();
    let room = 64 * 1024 - just_small.to_string().len() - r#","padding":"""#.len();
    just_small["padding"] = json!("p".repeat(room));
    assert_eq!(just_small.to_string().len(), 64 * 1024);
    let ok = Served::ok(&good);
    let cases = [
        ("/ok", ok.clone(), true),
        ("/just-64-kib", Served::ok(&just_small), true),
        ("/status-500", Served { status: 500, ..ok.clone() }, false),
        ("/status-404", Served { status: 404, ..ok.clone() }, false),
        ("/not-json", Served { body: "<html>keys</html>".into(), ..ok.clone() }, false),
        ("/no-keys", Served::ok(&json!({"keys": []})), false),
        ("/not-a-jwks", Served::ok(&json!([public.clone()])), false),
        ("/slow", Served { delay: Duration::from_secs(5), ..ok.clone() }, false),
        ("/drip", Served { drip: Some(Duration::from_secs(6)), ..ok.clone() }, false),
        ("/too-big", Served::ok(&big), false),
        ("/too-big-no-length", Served { no_length: true, ..Served::ok(&big) }, false),
    ];
    let mut apps = Vec::new();
    for (path, served, _) in &cases {
        keys.serve(path, served.clone());
        apps.push(create(&s, &admin, private_key_app(&format!("JWKS {path}"), None, Some(&keys.url(path)))).await);
    }
    for ((path, _, accepted), id) in cases.iter().zip(&apps) {
        let assertion = sign("ES256", &private, kid_header(&public), claims(&s, id, s.token_url(P1)));
        let started = Instant::now();
        let answer = cc(&s, P1, &assertion).await;
        let took = started.elapsed();
        if *accepted {
            assert_token(&answer, path);
        } else {
            assert_refused(&answer, path);
        }
        assert!(keys.hits(path) >= 1, "{path}: the JWKS URL was fetched");
        assert!(took < Duration::from_millis(4000), "{path}: answered within the 2 s fetch timeout: {took:?}");
    }

    // A JWKS URL that recovers is used again after the 10 s cooldown.
    keys.serve("/status-500", ok.clone());
    s.advance_s(11);
    let id = &apps[cases.iter().position(|c| c.0 == "/status-500").unwrap()];
    let assertion = sign("ES256", &private, kid_header(&public), claims(&s, id, s.token_url(P1)));
    assert_token(&cc(&s, P1, &assertion).await, "the recovered JWKS URL");
    s.stop().await;
}

/// Without `JWKS_ALLOW_LOOPBACK`, a plain-http loopback `jwksUrl` is refused when registered, or
/// never fetched and never authenticates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_jwks_url_needs_the_setting() {
    let s = TestServer::start(StoreKind::Memory).await;
    let admin = s.admin_token().await;
    let keys = JwksServer::start().await;
    let (private, public) = keygen("ES256");
    keys.serve("/jwks", Served::ok(&jwks(&[&public])));
    let created = s.create_app_answer(&admin, private_key_app("Loopback keys", None, Some(&keys.url("/jwks")))).await;
    match created.status {
        400 => {
            let details = TestServer::assert_p1_error(&created, 400, "INVALID_DATA");
            assert!(details.iter().any(|d| d["target"] == "jwksUrl"), "{created:?}");
        }
        201 => {
            let id = created.str("id");
            let assertion = sign("ES256", &private, kid_header(&public), claims(&s, &id, s.token_url(P1)));
            assert_refused(&cc(&s, P1, &assertion).await, "a loopback jwksUrl without the setting");
        }
        _ => panic!("neither refused nor created: {created:?}"),
    }
    assert_eq!(keys.hits("/jwks"), 0, "never fetched");
    s.stop().await;
}

/// An inline JWKS holds public keys only: a private JWK or a symmetric key is refused when
/// registered (it would be published to anyone who reads the app).
#[tokio::test]
async fn private_keys_are_not_registered() {
    let s = TestServer::start(StoreKind::Memory).await;
    let admin = s.admin_token().await;
    let (es_private, es_public) = keygen("ES256");
    let (rsa_private, _) = keygen("PS256");
    let symmetric = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "oct", "alg": "HS256"});
    for (case, key) in [("EC private", &es_private), ("RSA private", &rsa_private), ("symmetric", &symmetric)] {
        let body = private_key_app("Leaky keys", Some(&jwks(&[&es_public, key])), None);
        let answer = s.create_app_answer(&admin, body).await;
        let details = TestServer::assert_p1_error(&answer, 400, "INVALID_DATA");
        assert!(details.iter().any(|d| d["target"] == "jwks"), "{case}: {answer:?}");
    }
    s.stop().await;
}
