//! The user-code guessing limits (RFC 8628 §5.1) through the flow API, on both stores, and
//! "Bypass Authorization Approval" for remembered consents.

use blackbox::*;
use serde_json::json;
use shared::flows::guard::{IP_MAX_FAILURES, IP_WINDOW_S};
use shared::Dialect;

const VERIFY: &str = "deviceAuthGrant.userCode.verify";

async fn wrong_code(s: &TestServer, flow: &str) -> Answer {
    s.flow_action(flow, VERIFY, json!({"userCode": "BCDF-GHJK"})).await
}

async fn limits(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    // Start at the beginning of a 15-minute window so the counts below fall in one.
    let now_s = shared::clock::Clock::now_s(&*s.clock);
    s.advance_s(IP_WINDOW_S - now_s.rem_euclid(IP_WINDOW_S));
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let right = json!({"userCode": grant.str("user_code")});

    // Per flow (browser session): five wrong codes, then even the right one is refused.
    let flow = s.start_flow(None).await;
    for i in 0..5 {
        let answer = wrong_code(&s, &flow).await;
        assert_eq!((answer.status, answer.json["details"][0]["code"].as_str()), (400, Some("INVALID_VALUE")), "{i}");
    }
    let locked = s.flow_action(&flow, VERIFY, right.clone()).await;
    assert_eq!((locked.status, locked.json["code"].as_str()), (429, Some("REQUEST_LIMITED")), "{locked:?}");
    assert_eq!(locked.json["details"][0]["code"], "TOO_MANY_ATTEMPTS");

    // The environment's soft limit: this IP has failed, so it waits for the next minute.
    let next = s.start_flow(None).await;
    let waiting = s.flow_action(&next, VERIFY, right.clone()).await;
    assert_eq!(waiting.status, 429, "{waiting:?}");
    assert!(waiting.json["details"][0]["innerError"]["secondsUntilUnlock"].as_i64().unwrap() <= 60);
    s.advance_s(60);
    let ok = s.flow_action(&next, VERIFY, right.clone()).await;
    assert_eq!(ok.json["status"], "USERNAME_PASSWORD_REQUIRED", "after the minute the right code works: {ok:?}");

    // Per IP: ten wrong codes in the window (one a minute, fresh flows), then a lock-out.
    for _ in 5..IP_MAX_FAILURES {
        s.advance_s(61);
        let f = s.start_flow(None).await;
        assert_eq!(wrong_code(&s, &f).await.status, 400);
    }
    s.advance_s(61);
    let f = s.start_flow(None).await;
    let ip_locked = s.flow_action(&f, VERIFY, right.clone()).await;
    assert_eq!(ip_locked.status, 429, "{ip_locked:?}");
    assert!(ip_locked.json["message"].as_str().unwrap().contains("from your network"), "{ip_locked:?}");
    s.stop().await;
}

#[tokio::test]
async fn guessing_limits_on_memory() {
    limits(StoreKind::Memory).await;
}

#[tokio::test]
async fn guessing_limits_on_dynamodb() {
    limits(StoreKind::DynamoDb).await;
}

/// With "Bypass Authorization Approval" a second request for scopes the person already granted
/// completes without the approval step; other scopes still ask.
async fn bypass_approval(kind: StoreKind) {
    let s = TestServer::start_with(kind, |settings| settings.bypass_authorization_approval = true).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let first = s.device_authorization(Dialect::PingOne, auth, "openid profile").await;
    s.approve(&first.str("user_code"), true).await;

    let second = s.device_authorization(Dialect::PingOne, auth, "openid").await;
    let flow = s.start_flow(None).await;
    s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    let verified = s.flow_action(&flow, VERIFY, json!({"userCode": second.str("user_code")})).await;
    assert_eq!(verified.json["status"], "COMPLETED", "remembered consent, approval bypassed: {verified:?}");
    let tokens = s.poll(Dialect::PingOne, auth, &second.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");

    let wider = s.device_authorization(Dialect::PingOne, auth, "openid email").await;
    let flow = s.start_flow(None).await;
    s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    let asks = s.flow_action(&flow, VERIFY, json!({"userCode": wider.str("user_code")})).await;
    assert_eq!(asks.json["status"], "DAG_CONSENT_REQUIRED", "a new scope needs approval: {asks:?}");
    s.stop().await;
}

#[tokio::test]
async fn bypass_approval_on_memory() {
    bypass_approval(StoreKind::Memory).await;
}

#[tokio::test]
async fn bypass_approval_on_dynamodb() {
    bypass_approval(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn without_bypass_approval_is_always_asked() {
    let s = TestServer::start(StoreKind::Memory).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let first = s.device_authorization(Dialect::PingOne, auth, "openid").await;
    s.approve(&first.str("user_code"), true).await;
    let second = s.device_authorization(Dialect::PingOne, auth, "openid").await;
    s.approve(&second.str("user_code"), true).await; // asserts DAG_CONSENT_REQUIRED on the way
    s.stop().await;
}
