//! Mutual TLS (RFC 8705) for the black-box tests: certificates made with rcgen (CAs, an
//! intermediate, leaves, self-signed ones), the `local-server` binary on HTTPS (`--tls-cert`,
//! `--tls-key`, `--tls-client-ca`) over either store, and a TLS client presenting a certificate.
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
use shared::demo::{ADMIN_APP_ID, ADMIN_APP_SECRET};
use shared::Dialect;

use crate::{StoreKind, ENV};

// --- Certificates -----------------------------------------------------------------------------

/// A certificate with its key, and the chain above it that a client sends (intermediates).
pub struct Identity {
    pub der: Vec<u8>,
    pub key: KeyPair,
    pub intermediates: Vec<Vec<u8>>,
}

impl Identity {
    /// The certificate as PEM, as API Gateway hands it to a Lambda (`clientCertPem`).
    pub fn pem(&self) -> String {
        let b64 = B64_STD.encode(&self.der);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    }
}

/// A CA: its parameters and key (for signing), its certificate, and the certificates a client
/// of this CA sends above its own (none for a root, the CA itself for an intermediate).
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    chain: Vec<Vec<u8>>,
}

pub fn names(rdns: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in rdns {
        dn.push(kind.clone(), *value);
    }
    dn
}

pub fn params(rdns: &[(DnType, &str)]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = names(rdns);
    params
}

pub fn ca_params(rdns: &[(DnType, &str)]) -> CertificateParams {
    let mut p = params(rdns);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

/// A self-signed root CA; `rdns` most significant first (ASN.1 order).
pub fn root_ca(rdns: &[(DnType, &str)]) -> Ca {
    let (params, key) = (ca_params(rdns), KeyPair::generate().unwrap());
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem, chain: vec![] }
}

/// An intermediate CA under `root`; its certificate travels with those it issues.
pub fn intermediate_ca(rdns: &[(DnType, &str)], root: &Ca) -> Ca {
    let (params, key) = (ca_params(rdns), KeyPair::generate().unwrap());
    let cert = params.signed_by(&key, &Issuer::from_params(&root.params, &root.key)).unwrap();
    let chain = [vec![cert.der().to_vec()], root.chain.clone()].concat();
    Ca { params, key, pem: cert.pem(), chain }
}

/// A certificate for `params` issued by `ca`.
pub fn issue(params: CertificateParams, ca: &Ca) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key)).unwrap();
    Identity { der: cert.der().to_vec(), key, intermediates: ca.chain.clone() }
}

pub fn device_subject() -> [(DnType, &'static str); 2] {
    [(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-1")]
}

pub fn self_signed(cn: &str) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = params(&[(DnType::CommonName, cn)]).self_signed(&key).unwrap();
    Identity { der: cert.der().to_vec(), key, intermediates: vec![] }
}

/// RFC 8705 §3.1, computed here independently of the server.
pub fn thumbprint(identity: &Identity) -> String {
    B64_URL.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &identity.der))
}

/// The P-256 public JWK of `identity`'s key with the certificate as `x5c`.
pub fn jwk_with_x5c(identity: &Identity) -> Value {
    let point = identity.key.public_key_raw();
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
    json!({
        "kty": "EC", "crv": "P-256", "use": "sig",
        "x": B64_URL.encode(&point[1..33]), "y": B64_URL.encode(&point[33..]),
        "x5c": [B64_STD.encode(&identity.der)]
    })
}

// --- The server -------------------------------------------------------------------------------

pub struct Running {
    child: Child,
    pub addr: SocketAddr,
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
/// for client chains (none: no `--tls-client-ca`), on the memory store.
pub fn start(client_cas: &[&Ca]) -> Running {
    start_on(StoreKind::Memory, client_cas)
}

/// The same on `store`: DynamoDB is a fresh table on the test server (`--dynamodb-endpoint`,
/// `--table`), the server's secrets generated for the process as `local-server` does locally;
/// either way the server seeds the demo data, its admin worker included.
pub fn start_on(store: StoreKind, client_cas: &[&Ca]) -> Running {
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
    if store == StoreKind::DynamoDb {
        command.arg("--dynamodb-endpoint").arg(crate::dynamodb_endpoint());
        command.arg("--table").arg(format!("mtls-{}", uuid::Uuid::new_v4()));
    }
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
pub struct Client {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub json: Value,
}

impl Running {
    pub fn client(&self, identity: Option<&Identity>) -> Client {
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
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: String) -> Reply {
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

    pub async fn form(&self, path: &str, fields: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
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
    pub async fn client_credentials(&self, client_id: &str) -> Reply {
        self.form(&format!("/{ENV}/as/token"), &[("grant_type", "client_credentials"), ("client_id", client_id)], None)
            .await
    }

    pub async fn json(&self, method: &str, path: &str, token: &str, body: Value) -> Reply {
        let headers = [("content-type", "application/json".to_owned()), ("authorization", format!("Bearer {token}"))];
        self.send(method, path, &headers, body.to_string()).await
    }
}

/// Registers an application through the management API with the demo admin's token.
pub async fn register(server: &Running, body: Value) -> String {
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

/// A `TLS_CLIENT_AUTH` application's body for `device_subject()` under `example_ca()`, with
/// `extra` on top.
pub fn tls_client_auth(extra: Value) -> Value {
    let mut body = json!({
        "name": format!("mTLS {}", uuid::Uuid::new_v4()), "tokenEndpointAuthMethod": "TLS_CLIENT_AUTH",
        "tlsClientAuthSubjectDn": "CN=device-1,O=Example", "tlsClientAuthIssuerDn": "CN=Example CA,O=Example"
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The one answer to a failed client authentication, whatever failed.
#[track_caller]
pub fn assert_invalid_client(reply: &Reply, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {reply:?}");
    assert_eq!(reply.json["error"], "invalid_client", "{case}: {reply:?}");
    assert_eq!(reply.json["error_description"], "Invalid client or client credentials.", "{case}: {reply:?}");
    let cache_control = reply.headers.get("cache-control").and_then(|v| v.to_str().ok());
    assert_eq!(cache_control, Some("no-store"), "{case}: {reply:?}");
}

pub fn example_ca() -> Ca {
    root_ca(&[(DnType::OrganizationName, "Example"), (DnType::CommonName, "Example CA")])
}

pub fn other_ca() -> Ca {
    root_ca(&[(DnType::OrganizationName, "Other"), (DnType::CommonName, "Other CA")])
}

/// The paths of the four endpoints that authenticate clients, in `dialect` (PingFederate's on
/// the default environment, `ENV`).
pub struct Endpoints {
    pub token: String,
    pub device_authorization: String,
    pub introspection: String,
    pub revocation: String,
}

impl Endpoints {
    pub fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::PingOne => Self {
                token: format!("/{ENV}/as/token"),
                device_authorization: format!("/{ENV}/as/device_authorization"),
                introspection: format!("/{ENV}/as/introspect"),
                revocation: format!("/{ENV}/as/revoke"),
            },
            Dialect::PingFederate => Self {
                token: "/as/token.oauth2".into(),
                device_authorization: "/as/device_authz.oauth2".into(),
                introspection: "/as/introspect.oauth2".into(),
                revocation: "/as/revoke_token.oauth2".into(),
            },
        }
    }
}
