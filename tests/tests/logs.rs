//! The logs of whole flows never hold a secret: device codes, user codes, passwords, client
//! secrets, authorization codes or tokens. Each request is one JSON line with route and status.

use std::io::Write;
use std::sync::{Arc, Mutex};

use blackbox::*;
use shared::Dialect;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_is_ever_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt().json().with_writer(move || writer.clone()).with_max_level(tracing::Level::DEBUG).init();

    let s = TestServer::start(StoreKind::Memory).await;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let grant = s.device_authorization(Dialect::PingOne, auth, "openid offline_access").await;
    s.approve(&grant.str("user_code"), true).await;
    let device_tokens = s.poll(Dialect::PingOne, auth, &grant.str("device_code")).await;
    assert_eq!(device_tokens.status, 200);
    let code = s.code_for(Dialect::PingOne, WEB_APP_ID, "openid").await;
    let code_tokens = s.redeem(Dialect::PingOne, auth, &code).await;
    assert_eq!(code_tokens.status, 200);
    s.stop().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let requests: Vec<_> = lines.iter().filter(|l| l["fields"]["message"] == "request").collect();
    assert!(requests.len() >= 10, "one line per request: {}", requests.len());
    assert!(requests.iter().all(|l| l["fields"]["route"].is_string() && l["fields"]["status"].is_u64()));
    let user_code = grant.str("user_code");
    for (what, secret) in [
        ("device code", grant.str("device_code")),
        ("user code", user_code.clone()),
        ("user code, no dash", user_code.replace('-', "")),
        ("password", demo::PASSWORD.to_owned()),
        ("client secret", WEB_APP_SECRET.to_owned()),
        ("authorization code", code),
        ("access token", device_tokens.str("access_token")),
        ("refresh token", device_tokens.str("refresh_token")),
        ("refresh token", code_tokens.str("refresh_token")),
        ("PKCE verifier", PKCE_VERIFIER.to_owned()),
    ] {
        assert!(!logs.contains(&secret), "the logs hold a {what}");
    }
}
