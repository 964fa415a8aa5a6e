//! The client side of JWT client authentication (RFC 7523) made by an independent JOSE
//! implementation: panva's `jose` through `tests/browser/jose-cli.mjs`, so that the keys and
//! assertions the server verifies come from no code of ours. One `node` process serves every
//! call of a test binary (`jose-cli.mjs serve`, one JSON line each way).
//!
//! Times in claims come from the server's manual clock (`TestServer::clock`), not the system's.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};
use shared::clock::Clock;

use crate::{Answer, TestServer, ENV};
use shared::Dialect;

/// `client_assertion_type` of a JWT bearer assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The asymmetric algorithms of `PRIVATE_KEY_JWT`.
pub const PRIVATE_KEY_ALGS: [&str; 9] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

/// The HMAC algorithms of `CLIENT_SECRET_JWT`.
pub const SECRET_ALGS: [&str; 3] = ["HS256", "HS384", "HS512"];

struct Node {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

static NODE: Mutex<Option<Node>> = Mutex::new(None);

/// `tests/browser/jose-cli.mjs`.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/jose-cli.mjs")
}

fn start() -> Node {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/jose/package.json").exists(),
        "tests/browser/node_modules lacks jose: run `npm ci --prefix tests/browser` (infra/scripts/test.sh does)"
    );
    let mut child = Command::new("node")
        .arg(script())
        .arg("serve")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node (the JOSE tooling of the tests needs Node.js)");
    let stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    Node { _child: child, stdin, stdout }
}

/// One request to the node process: its `ok` answer, or a panic with its error.
fn call(request: Value) -> Value {
    let mut guard = NODE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let node = guard.get_or_insert_with(start);
    let mut line = String::new();
    let sent = writeln!(node.stdin, "{request}").and_then(|()| node.stdin.flush());
    let read = sent.and_then(|()| node.stdout.read_line(&mut line));
    if read.is_err() || line.is_empty() {
        *guard = None;
        panic!("jose-cli.mjs did not answer {request}: {read:?}");
    }
    let answer: Value = serde_json::from_str(&line).expect("jose-cli.mjs answers JSON");
    match answer.get("ok") {
        Some(ok) => ok.clone(),
        None => panic!("jose-cli.mjs failed on {request}: {}", answer["error"].as_str().unwrap_or(&line)),
    }
}

/// A new key pair for `alg` (RS*, PS* 2048-bit; ES* on its curve): `(private, public)` JWKs,
/// both with a random `kid`, `alg` and `use: sig`.
pub fn keygen(alg: &str) -> (Value, Value) {
    let pair = call(json!({ "op": "keygen", "alg": alg }));
    (pair["private"].clone(), pair["public"].clone())
}

/// A new key pair with the given `kid`.
pub fn keygen_with_kid(alg: &str, kid: &str) -> (Value, Value) {
    let pair = call(json!({ "op": "keygen", "alg": alg, "kid": kid }));
    (pair["private"].clone(), pair["public"].clone())
}

/// An RSA key pair of `bits` bits for `alg` by node:crypto (`jose` makes and uses none under
/// 2048 bits: sign with `sign_raw`).
pub fn keygen_rsa(alg: &str, bits: u32) -> (Value, Value) {
    let pair = call(json!({ "op": "keygen", "alg": alg, "bits": bits }));
    (pair["private"].clone(), pair["public"].clone())
}

/// The `kid` of a JWK.
pub fn kid(jwk: &Value) -> String {
    jwk["kid"].as_str().expect("a kid on the JWK").to_owned()
}

/// A JWKS of public keys.
pub fn jwks(keys: &[&Value]) -> Value {
    json!({ "keys": keys })
}

/// The `key` of `sign` for HS*: the secret's UTF-8 bytes.
pub fn secret_key(secret: &str) -> Value {
    json!({ "secret": secret })
}

/// A compact JWS by `jose`: `alg` over `claims` with `key` (a private JWK, or `secret_key`), the
/// header `{"alg": alg, ...header}` (e.g. `{"kid": ...}`).
pub fn sign(alg: &str, key: &Value, header: Value, claims: Value) -> String {
    string(call(json!({ "op": "sign", "alg": alg, "key": key, "header": header, "claims": claims })))
}

/// Like `sign`, but by node:crypto alone: no check that the key fits the algorithm (ES256 with a
/// P-384 key, RS256 with an EC key's kid...).
pub fn sign_raw(alg: &str, key: &Value, header: Value, claims: Value) -> String {
    string(call(json!({ "op": "sign", "alg": alg, "key": key, "header": header, "claims": claims, "raw": true })))
}

/// An unsigned token: `{"alg": "none", ...header}.claims.` with an empty signature.
pub fn unsigned(header: Value, claims: Value) -> String {
    string(call(json!({ "op": "sign", "alg": "none", "header": header, "claims": claims })))
}

/// The algorithm confusion attack: `alg` (HS*) keyed with the bytes of `public`, the public JWK
/// (`format`: its SPKI `"pem"` or `"der"`).
pub fn hs_with_public_key(alg: &str, public: &Value, format: &str, header: Value, claims: Value) -> String {
    let key = json!({ "public_key_as_secret": public, "format": format });
    string(call(json!({ "op": "sign", "alg": alg, "key": key, "header": header, "claims": claims })))
}

/// Verifies a JWS with `jose` (the tooling's self-check): `{"header", "claims"}`.
pub fn verify(jwt: &str, key: &Value, algorithms: &[&str]) -> Value {
    call(json!({ "op": "verify", "jwt": jwt, "key": key, "algorithms": algorithms }))
}

fn string(value: Value) -> String {
    value.as_str().expect("a compact JWS").to_owned()
}

/// The server's clock, in seconds.
pub fn now_s(s: &TestServer) -> i64 {
    s.clock.now_ms() / 1000
}

/// Standard client assertion claims (RFC 7523 §3): `iss` = `sub` = `client_id`, `aud`, `iat` now,
/// `exp` in 300 s by the server's clock, a fresh `jti`.
pub fn claims(s: &TestServer, client_id: &str, aud: impl Into<Value>) -> Value {
    let now = now_s(s);
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud.into(),
        "iat": now,
        "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// The form fields presenting `assertion`.
pub fn assertion_fields(assertion: &str) -> [(&str, &str); 2] {
    [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)]
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", shared::http::encode_query_value(k), shared::http::encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl TestServer {
    pub fn introspection_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/introspect")),
            Dialect::PingFederate => self.url("/as/introspect.oauth2"),
        }
    }

    pub fn revocation_url(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::PingOne => self.url(&format!("/{ENV}/as/revoke")),
            Dialect::PingFederate => self.url("/as/revoke_token.oauth2"),
        }
    }

    /// POSTs `fields` plus `assertion` (and `client_id` if given), no other credentials.
    pub async fn post_assertion(
        &self,
        url: &str,
        client_id: Option<&str>,
        assertion: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.extend(assertion_fields(assertion));
        if let Some(id) = client_id {
            all.push(("client_id", id));
        }
        post_raw_form(&self.http, url, &form(&all)).await
    }
}

/// POSTs a urlencoded `body` as it is.
pub async fn post_raw_form(http: &reqwest::Client, url: &str, body: &str) -> Answer {
    let request = http.post(url).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body.to_owned());
    Answer::read(request.send().await.expect("send")).await
}
