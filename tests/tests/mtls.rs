//! Mutual-TLS client authentication (RFC 8705) end to end: the `local-server` binary on HTTPS
//! (`--tls-cert`, `--tls-key`, `--tls-client-ca`), applications registered through the
//! management API, and clients presenting certificates made here with rcgen: one from the trusted
//! CA, one from another trusted CA, one from an untrusted CA with the trusted CA's very DN, a
//! self-signed one, an expired one, one under an intermediate CA.
//!
//! The client is tokio-rustls + hyper, not reqwest: reqwest's rustls features without a provider
//! panic in every other reqwest client of the workspace (features are unified), and its
//! features with one bring `ring` back beside aws-lc-rs.
//! Needs the debug binary of `local-server`, which the README's test command builds first.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64_URL};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use shared::demo::{ADMIN_APP_ID, ADMIN_APP_SECRET, ENVIRONMENT_ID as ENV};

// --- Certificates -----------------------------------------------------------------------------

/// A certificate with its key, and the chain above it that a client sends (intermediates).
struct Identity {
    der: Vec<u8>,
    key: KeyPair,
    intermediates: Vec<Vec<u8>>,
}

/// A CA: its parameters and key (for signing), its certificate, and the certificates a client
/// of this CA sends above its own (none for a root, the CA itself for an intermediate).
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    chain: Vec<Vec<u8>>,
}

fn names(rdns: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in rdns {
        dn.push(kind.clone(), *value);
    }
    dn
}

fn params(rdns: &[(DnType, &str)]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = names(rdns);
    params
}

fn ca_params(rdns: &[(DnType, &str)]) -> CertificateParams {
    let mut p = params(rdns);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

/// A self-signed root CA; `rdns` most significant first (ASN.1 order).
fn root_ca(rdns: &[(DnType, &str)]) -> Ca {
    let (params, key) = (ca_params(rdns), KeyPair::generate().unwrap());
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem, chain: vec![] }
}

/// An intermediate CA under `root`; its certificate travels with those it issues.
fn intermediate_ca(rdns: &[(DnType, &str)], root: &Ca) -> Ca {
    let (params, key) = (ca_params(rdns), KeyPair::generate().unwrap());
    let cert = params.signed_by(&key, &Issuer::from_params(&root.params, &root.key)).unwrap();
    let chain = [vec![cert.der().to_vec()], root.chain.clone()].concat();
    Ca { params, key, pem: cert.pem(), chain }
}

/// A certificate for `params` issued by `ca`.
fn issue(params: CertificateParams, ca: &Ca) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key)).unwrap();
    Identity { der: cert.der().to_vec(), key, intermediates: ca.chain.clone() }
}

fn device_subject() -> [(DnType, &'static str); 2] {
    [(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-1")]
}

fn self_signed(cn: &str) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = params(&[(DnType::CommonName, cn)]).self_signed(&key).unwrap();
    Identity { der: cert.der().to_vec(), key, intermediates: vec![] }
}

/// RFC 8705 §3.1, computed here independently of the server.
fn thumbprint(identity: &Identity) -> String {
    B64_URL.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &identity.der))
}

/// The P-256 public JWK of `identity`'s key with the certificate as `x5c`.
fn jwk_with_x5c(identity: &Identity) -> Value {
    let point = identity.key.public_key_raw();
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
    json!({
        "kty": "EC", "crv": "P-256", "use": "sig",
        "x": B64_URL.encode(&point[1..33]), "y": B64_URL.encode(&point[33..]),
        "x5c": [B64_STD.encode(&identity.der)]
    })
}

// --- The server -------------------------------------------------------------------------------

struct Running {
    child: Child,
    addr: SocketAddr,
    server_root: Vec<u8>,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn local_server_binary() -> PathBuf {
    // tests run from target/debug/deps; the binaries are in target/debug.
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("local-server");
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p local-server`", bin.display());
    bin
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `local-server --addr 127.0.0.1:0` on HTTPS with its own certificate, trusting `client_cas`
/// for client chains (none: no `--tls-client-ca`).
fn start(client_cas: &[&Ca]) -> Running {
    let dir = std::env::temp_dir().join(format!("mtls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    let cert = write(&dir, "server.pem", &server_cert.pem());
    let key = write(&dir, "server-key.pem", &server_key.serialize_pem());
    let mut command = Command::new(local_server_binary());
    command.env_clear().env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit());
    command.args(["--addr", "127.0.0.1:0", "--tls-cert"]).arg(&cert).arg("--tls-key").arg(&key);
    if !client_cas.is_empty() {
        let bundle: String = client_cas.iter().map(|ca| ca.pem.as_str()).collect();
        command.arg("--tls-client-ca").arg(write(&dir, "client-ca.pem", &bundle));
    }
    let mut child = command.spawn().expect("start local-server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("listening on ").nth(1) {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(60)).expect("local-server says where it listens");
    let addr = url.strip_prefix("https://").expect("an https URL").parse().unwrap();
    Running { child, addr, server_root: server_cert.der().to_vec(), dir }
}

// --- The client -------------------------------------------------------------------------------

/// A TLS client trusting the server's certificate, presenting `identity` if any. Every request
/// is a new connection (no session resumption), so each handshake presents the certificate.
struct Client {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    json: Value,
}

impl Running {
    fn client(&self, identity: Option<&Identity>) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.server_root.clone())).unwrap();
        let builder =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = std::iter::once(&id.der).chain(&id.intermediates).map(|d| CertificateDer::from(d.clone()));
                let key = PrivateKeyDer::Pkcs8(id.key.serialize_der().into());
                builder.with_client_auth_cert(chain.collect(), key).unwrap()
            }
        };
        config.resumption = rustls::client::Resumption::disabled();
        Client { addr: self.addr, config: Arc::new(config) }
    }
}

impl Client {
    async fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: String) -> Reply {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(self.config.clone()).connect(name, tcp).await.expect("handshake");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(conn);
        let mut request = hyper::Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = sender.send_request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    async fn form(&self, path: &str, fields: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", shared::http::encode_query_value(k), shared::http::encode_query_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
        if let Some((id, secret)) = basic {
            headers.push(("authorization", format!("Basic {}", B64_STD.encode(format!("{id}:{secret}")))));
        }
        self.send("POST", path, &headers, body).await
    }

    /// `client_credentials` with `client_id` in the body and no other credential (RFC 8705 §2).
    async fn client_credentials(&self, client_id: &str) -> Reply {
        self.form(&format!("/{ENV}/as/token"), &[("grant_type", "client_credentials"), ("client_id", client_id)], None)
            .await
    }

    async fn json(&self, method: &str, path: &str, token: &str, body: Value) -> Reply {
        let headers = [("content-type", "application/json".to_owned()), ("authorization", format!("Bearer {token}"))];
        self.send(method, path, &headers, body.to_string()).await
    }
}

/// Registers an application through the management API with the demo admin's token.
async fn register(server: &Running, body: Value) -> String {
    let plain = server.client(None);
    let admin = plain
        .form(
            &format!("/{ENV}/as/token"),
            &[("grant_type", "client_credentials")],
            Some((ADMIN_APP_ID, ADMIN_APP_SECRET)),
        )
        .await;
    assert_eq!(admin.status, 200, "{admin:?}");
    let token = admin.json["access_token"].as_str().unwrap().to_owned();
    let mut app = json!({"enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT", "grantTypes": ["CLIENT_CREDENTIALS"]});
    for (k, v) in body.as_object().unwrap() {
        app[k] = v.clone();
    }
    let created = plain.json("POST", &format!("/v1/environments/{ENV}/applications"), &token, app).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.json["id"].as_str().unwrap().to_owned()
}

fn tls_client_auth(extra: Value) -> Value {
    let mut body = json!({
        "name": format!("mTLS {}", uuid::Uuid::new_v4()), "tokenEndpointAuthMethod": "TLS_CLIENT_AUTH",
        "tlsClientAuthSubjectDn": "CN=device-1,O=Example", "tlsClientAuthIssuerDn": "CN=Example CA,O=Example"
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn assert_invalid_client(reply: &Reply, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {reply:?}");
    assert_eq!(reply.json["error"], "invalid_client", "{case}: {reply:?}");
}

fn example_ca() -> Ca {
    root_ca(&[(DnType::OrganizationName, "Example"), (DnType::CommonName, "Example CA")])
}

fn other_ca() -> Ca {
    root_ca(&[(DnType::OrganizationName, "Other"), (DnType::CommonName, "Other CA")])
}

// --- The tests --------------------------------------------------------------------------------

#[tokio::test]
async fn the_listener_serves_https_and_asks_for_no_certificate_it_needs() {
    let server = start(&[]);
    let plain = server.client(None);
    let discovery = plain.send("GET", &format!("/{ENV}/as/.well-known/openid-configuration"), &[], String::new()).await;
    assert_eq!(discovery.status, 200, "{discovery:?}");
    let issuer = discovery.json["issuer"].as_str().unwrap();
    assert!(issuer.starts_with(&format!("https://{}", server.addr)), "the base URL is https: {issuer}");
    // A certificate nobody trusts is accepted in the handshake (it proves its key) and served.
    let with_cert = server.client(Some(&self_signed("anyone")));
    let jwks = with_cert.send("GET", &format!("/{ENV}/as/jwks"), &[], String::new()).await;
    assert_eq!(jwks.status, 200, "{jwks:?}");
    // Plain HTTP on the TLS port is not served.
    let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut tcp, b"GET /pf/JWKS HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut tcp, &mut answer);
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn tls_client_auth_needs_the_chain_and_both_dns() {
    let (example, other) = (example_ca(), other_ca());
    let server = start(&[&example, &other]);
    let client_id = register(&server, tls_client_auth(json!({}))).await;

    let good = issue(params(&device_subject()), &example);
    let ok = server.client(Some(&good)).client_credentials(&client_id).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.json["access_token"].is_string(), "{ok:?}");
    assert_eq!(ok.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));

    let wrong_subject =
        issue(params(&[(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-2")]), &example);
    assert_invalid_client(&server.client(Some(&wrong_subject)).client_credentials(&client_id).await, "wrong subject");
    let wrong_issuer = issue(params(&device_subject()), &other);
    assert_invalid_client(&server.client(Some(&wrong_issuer)).client_credentials(&client_id).await, "wrong issuer");
    assert_invalid_client(&server.client(None).client_credentials(&client_id).await, "no certificate");
    // The trusted CA's very DN on another key: the DNs match, the chain does not.
    let rogue = issue(params(&device_subject()), &example_ca());
    assert_invalid_client(&server.client(Some(&rogue)).client_credentials(&client_id).await, "untrusted chain");
    let mut old = params(&device_subject());
    (old.not_before, old.not_after) = (rcgen::date_time_ymd(2020, 1, 1), rcgen::date_time_ymd(2021, 1, 1));
    assert_invalid_client(&server.client(Some(&issue(old, &example))).client_credentials(&client_id).await, "expired");
}

#[tokio::test]
async fn tls_client_auth_takes_api_gateway_dn_order_and_intermediates() {
    let root = example_ca();
    let issuing = intermediate_ca(
        &[(DnType::CountryName, "US"), (DnType::OrganizationName, "Example"), (DnType::CommonName, "Issuing CA")],
        &root,
    );
    let server = start(&[&root]);
    // The DNs as API Gateway's subjectDN / issuerDN write them (most significant first).
    let client_id = register(
        &server,
        tls_client_auth(json!({"tlsClientAuthSubjectDn": "O=Example,CN=device-1", "tlsClientAuthIssuerDn": "C=US,O=Example,CN=Issuing CA"})),
    )
    .await;
    let device = issue(params(&device_subject()), &issuing);
    assert_eq!(device.intermediates.len(), 1, "the client sends the issuing CA");
    let ok = server.client(Some(&device)).client_credentials(&client_id).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // Without the intermediate the leaf chains to nothing the server trusts.
    let alone = Identity { intermediates: vec![], ..device };
    assert_invalid_client(&server.client(Some(&alone)).client_credentials(&client_id).await, "no intermediate");
}

#[tokio::test]
async fn self_signed_tls_client_auth_is_the_registered_certificate() {
    let server = start(&[]);
    let registered = self_signed("device-ss");
    let jwks = json!({"keys": [jwk_with_x5c(&registered)]}).to_string();
    let client_id = register(
        &server,
        json!({"name": "self-signed", "tokenEndpointAuthMethod": "SELF_SIGNED_TLS_CLIENT_AUTH", "jwks": jwks}),
    )
    .await;
    let ok = server.client(Some(&registered)).client_credentials(&client_id).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_invalid_client(
        &server.client(Some(&self_signed("device-ss"))).client_credentials(&client_id).await,
        "another",
    );
    assert_invalid_client(&server.client(None).client_credentials(&client_id).await, "no certificate");
}

/// The JSON payload of a JWT.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64_URL.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn bound_access_tokens_carry_the_thumbprint_and_need_the_certificate() {
    let example = example_ca();
    let server = start(&[&example]);
    let client_id = register(
        &server,
        tls_client_auth(json!({
            "grantTypes": ["CLIENT_CREDENTIALS", "DEVICE_CODE"], "tlsClientCertificateBoundAccessTokens": true
        })),
    )
    .await;
    let device = issue(params(&device_subject()), &example);
    let client = server.client(Some(&device));
    let expected = json!({"x5t#S256": thumbprint(&device)});

    let issued = client.client_credentials(&client_id).await;
    assert_eq!(issued.status, 200, "{issued:?}");
    let token = issued.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&token)["cnf"], expected, "RFC 8705 §3.1");
    let introspected =
        client.form(&format!("/{ENV}/as/introspect"), &[("token", &token), ("client_id", &client_id)], None).await;
    assert_eq!(introspected.status, 200, "{introspected:?}");
    assert_eq!((introspected.json["active"].as_bool(), &introspected.json["cnf"]), (Some(true), &expected));

    // A person's token, for userinfo: the device flow with the bound client.
    let user_token = device_flow_token(&server, &client, &client_id).await;
    assert_eq!(payload(&user_token)["cnf"], expected);
    let userinfo = |client: Client| {
        let token = user_token.clone();
        async move {
            client
                .send(
                    "GET",
                    &format!("/{ENV}/as/userinfo"),
                    &[("authorization", format!("Bearer {token}"))],
                    String::new(),
                )
                .await
        }
    };
    let with_cert = userinfo(server.client(Some(&device))).await;
    assert_eq!(with_cert.status, 200, "{with_cert:?}");
    assert!(with_cert.json["sub"].is_string(), "{with_cert:?}");
    let without = userinfo(server.client(None)).await;
    assert_eq!(without.status, 401, "{without:?}");
    let other = userinfo(server.client(Some(&issue(params(&device_subject()), &example)))).await;
    assert_eq!(other.status, 401, "another certificate, same DNs: {other:?}");
}

/// The device flow for the demo user with `client` (the device, with its certificate); the
/// person's side over a connection without one, keeping its cookies by hand.
async fn device_flow_token(server: &Running, client: &Client, client_id: &str) -> String {
    let started = client
        .form(&format!("/{ENV}/as/device_authorization"), &[("client_id", client_id), ("scope", "openid")], None)
        .await;
    assert_eq!(started.status, 200, "{started:?}");
    let (device_code, user_code) = (
        started.json["device_code"].as_str().unwrap().to_owned(),
        started.json["user_code"].as_str().unwrap().to_owned(),
    );

    let browser = server.client(None);
    let flow_start = browser.send("GET", &format!("/{ENV}/device"), &[], String::new()).await;
    assert_eq!(flow_start.status, 302, "{flow_start:?}");
    let location = flow_start.headers["location"].to_str().unwrap();
    let flow = location.split("flowId=").nth(1).expect("a flowId").split('&').next().unwrap().to_owned();
    let cookies: Vec<String> = flow_start
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let cookie = cookies.join("; ");
    let action = |action: &str, body: Value| {
        let headers =
            [("content-type", format!("application/vnd.pingidentity.{action}+json")), ("cookie", cookie.clone())];
        let path = format!("/{ENV}/flows/{flow}");
        let browser = &browser;
        async move { browser.send("POST", &path, &headers, body.to_string()).await }
    };
    let login = action("usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
    let verify = action("deviceAuthGrant.userCode.verify", json!({"userCode": user_code})).await;
    assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
    let consent = action("deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");

    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let tokens = client
        .form(
            &format!("/{ENV}/as/token"),
            &[("grant_type", grant), ("device_code", &device_code), ("client_id", client_id)],
            None,
        )
        .await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    tokens.json["access_token"].as_str().unwrap().to_owned()
}
