//! Mutual-TLS client authentication (RFC 8705) end to end: the `local-server` binary on HTTPS
//! (`--tls-cert`, `--tls-key`, `--tls-client-ca`) on either store, applications registered
//! through the management API, and clients presenting certificates made here with rcgen: one
//! from the trusted CA, one from another trusted CA, one from an untrusted CA with the trusted
//! CA's very DN, a self-signed one, an expired one, one under an intermediate CA. Both methods at
//! the four endpoints that authenticate clients, in both dialects, on both stores.
//!
//! The certificates, the server and the TLS client are in `blackbox::mtls`.
//! Needs the debug binary of `local-server`, which the README's test command builds first.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64_URL;
use base64::Engine;
use blackbox::mtls::*;
use blackbox::{StoreKind, BOTH_DIALECTS, ENV};
use rcgen::DnType;
use serde_json::{json, Value};

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

// --- Every endpoint, both dialects, both stores -----------------------------------------------

/// An app of each method (client credentials and device codes, `client_id` in the body and no
/// other credential), in both dialects, at the four endpoints that authenticate clients: with
/// its certificate, the token endpoint issues a token, device authorization a device code,
/// introspection finds the token active, revocation revokes it and introspection then finds it
/// inactive; without a certificate, or with the wrong one (another subject under the trusted
/// CA; another self-signed certificate of the same name), each endpoint answers 401
/// invalid_client and a refused revocation leaves the token active.
async fn every_endpoint_in_both_dialects(kind: StoreKind) {
    let example = example_ca();
    let server = start_on(kind, &[&example]);
    let grants = json!(["CLIENT_CREDENTIALS", "DEVICE_CODE"]);
    let pki_id = register(&server, tls_client_auth(json!({ "grantTypes": grants }))).await;
    let registered = self_signed("device-ss");
    let self_signed_id = register(
        &server,
        json!({
            "name": format!("self-signed {}", uuid::Uuid::new_v4()), "grantTypes": grants,
            "tokenEndpointAuthMethod": "SELF_SIGNED_TLS_CLIENT_AUTH",
            "jwks": json!({"keys": [jwk_with_x5c(&registered)]}).to_string()
        }),
    )
    .await;
    let other_device = [(DnType::OrganizationName, "Example"), (DnType::CommonName, "device-2")];
    let methods = [
        ("TLS_CLIENT_AUTH", pki_id, issue(params(&device_subject()), &example), issue(params(&other_device), &example)),
        ("SELF_SIGNED_TLS_CLIENT_AUTH", self_signed_id, registered, self_signed("device-ss")),
    ];
    for (method, client_id, good, wrong) in &methods {
        let (good, wrong, none) = (server.client(Some(good)), server.client(Some(wrong)), server.client(None));
        for dialect in BOTH_DIALECTS {
            let case = |what: &str| format!("{kind:?} {dialect:?} {method}: {what}");
            let paths = Endpoints::of(dialect);
            let id = ("client_id", client_id.as_str());

            let cc = [("grant_type", "client_credentials"), id];
            let issued = good.form(&paths.token, &cc, None).await;
            assert_eq!(issued.status, 200, "{}: {issued:?}", case("token"));
            assert_eq!(issued.json["token_type"], "Bearer", "{}: {issued:?}", case("token"));
            let token = issued.json["access_token"].as_str().expect("an access token").to_owned();

            let device = [id, ("scope", "openid")];
            let started = good.form(&paths.device_authorization, &device, None).await;
            assert_eq!(started.status, 200, "{}: {started:?}", case("device authorization"));
            assert!(started.json["device_code"].is_string(), "{}: {started:?}", case("device authorization"));
            assert!(started.json["user_code"].is_string(), "{}: {started:?}", case("device authorization"));

            let with_token = [id, ("token", token.as_str())];
            let endpoints = [
                ("token", &paths.token, &cc[..]),
                ("device authorization", &paths.device_authorization, &device[..]),
                ("introspection", &paths.introspection, &with_token[..]),
                ("revocation", &paths.revocation, &with_token[..]),
            ];
            for (endpoint, path, fields) in endpoints {
                for (refused, presenting) in [(&none, "no certificate"), (&wrong, "the wrong certificate")] {
                    let reply = refused.form(path, fields, None).await;
                    assert_invalid_client(&reply, &case(&format!("{endpoint} with {presenting}")));
                }
            }

            let seen = good.form(&paths.introspection, &with_token, None).await;
            assert_eq!(seen.status, 200, "{}: {seen:?}", case("introspection"));
            assert_eq!(seen.json["active"], true, "{}: {seen:?}", case("introspection after refusals"));
            assert_eq!(seen.json["client_id"], client_id.as_str(), "{}: {seen:?}", case("introspection"));
            let revoked = good.form(&paths.revocation, &with_token, None).await;
            assert_eq!(revoked.status, 200, "{}: {revoked:?}", case("revocation"));
            let gone = good.form(&paths.introspection, &with_token, None).await;
            assert_eq!((gone.status, &gone.json["active"]), (200, &json!(false)), "{}: {gone:?}", case("revoked"));
        }
    }
}

blackbox::on_both_stores!(every_endpoint_in_both_dialects);
