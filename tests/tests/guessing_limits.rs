//! The user-code guessing limits (RFC 8628 §5.1) through the flow API, on both stores, from
//! several source networks (addresses of 127.0.0.0/8): per flow, per network, per environment
//! for sources that failed, a first try from a clean source always judged (probe finding F6), and
//! all of it atomic under concurrency (F3). Plus "Bypass Authorization Approval".

use blackbox::*;
use serde_json::json;
use shared::flows::guard::{ENV_MAX_FAILURES, FLOW_MAX_FAILURES, NETWORK_MAX_FAILURES, NETWORK_WINDOW_S};
use shared::Dialect;

const VERIFY: &str = "deviceAuthGrant.userCode.verify";

/// A well-formed code that is not live (letters of the alphabet, drawn at random).
fn wrong() -> String {
    let letters = shared::codes::USER_CODE_ALPHABET;
    (0..8).map(|_| letters[usize::from(rand_byte()) % letters.len()] as char).collect()
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// Tries `code` on a fresh flow of `browser`.
async fn fresh_try(s: &TestServer, browser: &reqwest::Client, code: &str) -> Answer {
    let flow = s.start_flow_in(browser, None).await;
    s.flow_action(&flow, VERIFY, json!({ "userCode": code })).await
}

fn assert_wrong(answer: &Answer) {
    assert_eq!((answer.status, answer.json["details"][0]["code"].as_str()), (400, Some("INVALID_VALUE")), "{answer:?}");
}

fn assert_limited(answer: &Answer, says: &str) {
    assert_eq!((answer.status, answer.json["code"].as_str()), (429, Some("REQUEST_LIMITED")), "{answer:?}");
    assert_eq!(answer.json["details"][0]["code"], "TOO_MANY_ATTEMPTS");
    assert!(answer.json["message"].as_str().unwrap().contains(says), "{answer:?}");
}

fn assert_taken(answer: &Answer) {
    assert_eq!(answer.json["status"], "USERNAME_PASSWORD_REQUIRED", "the right code was taken: {answer:?}");
    assert!(answer.json["_embedded"]["deviceAuthorization"].is_object(), "{answer:?}");
}

/// Moves the server's clock to the start of a 15-minute window (also a minute's start).
fn align(s: &TestServer) {
    let now_s = shared::clock::Clock::now_s(&*s.clock);
    s.advance_s(NETWORK_WINDOW_S - now_s.rem_euclid(NETWORK_WINDOW_S));
}

async fn limits(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    align(&s);
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let right = grant.str("user_code");

    // Per flow (browser session): five wrong codes, then even the right one is refused.
    let a = browser_from("127.0.10.1");
    let flow = s.start_flow_in(&a, None).await;
    for _ in 0..FLOW_MAX_FAILURES {
        assert_wrong(&s.flow_action(&flow, VERIFY, json!({ "userCode": wrong() })).await);
    }
    assert_limited(&s.flow_action(&flow, VERIFY, json!({ "userCode": right })).await, "in this sign-in");

    // The same network in a fresh flow still gets its right code: 5 of its 10.
    assert_taken(&fresh_try(&s, &a, &right).await);

    // Per network: five more wrong codes, then its right code waits for the window.
    for _ in FLOW_MAX_FAILURES..NETWORK_MAX_FAILURES {
        assert_wrong(&fresh_try(&s, &a, &wrong()).await);
    }
    let locked = fresh_try(&s, &a, &right).await;
    assert_limited(&locked, "from your network");
    let wait = locked.json["details"][0]["innerError"]["secondsUntilUnlock"].as_i64().unwrap();
    assert!(wait > 0 && wait <= NETWORK_WINDOW_S, "{wait}");

    // The environment: five more networks fail once each (clean first tries, all judged), which
    // brings this minute to 15 wrong codes.
    for i in 1..=(ENV_MAX_FAILURES - NETWORK_MAX_FAILURES) {
        assert_wrong(&fresh_try(&s, &browser_from(&format!("127.0.11.{i}")), &wrong()).await);
    }
    // A source that has failed now waits for the minute, even with the right code...
    let dirty = browser_from("127.0.11.1");
    assert_limited(&fresh_try(&s, &dirty, &right).await, "being entered right now");
    // ...so does a fresh address in a block that failed three times already...
    assert_limited(&fresh_try(&s, &browser_from("127.0.11.99"), &right).await, "being entered right now");
    // ...but a person whose network and block have not failed is never locked out (F6).
    assert_taken(&fresh_try(&s, &browser_from("127.0.12.1"), &right).await);
    // The next minute, the failed source may try again.
    s.advance_s(60);
    assert_taken(&fresh_try(&s, &dirty, &right).await);
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

/// F3: a hundred wrong codes fired at once from one network, each in its own flow: at most the
/// network's limit of them is judged; every other one is refused without being looked at.
async fn simultaneous_wrong_codes(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    align(&s);
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let attacker = browser_from("127.0.20.1");
    let mut flows = Vec::new();
    for _ in 0..100 {
        flows.push(s.start_flow_in(&attacker, None).await);
    }
    let answers = futures::future::join_all(
        flows.iter().map(|flow| s.flow_action_in(&attacker, flow, VERIFY, json!({ "userCode": wrong() }))),
    )
    .await;
    let judged = answers.iter().filter(|a| a.status == 400).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(judged + refused, 100, "only wrong-code and limit answers: {answers:?}");
    println!("{kind:?}: {judged} of 100 simultaneous wrong codes from one network were judged");
    assert!(judged <= NETWORK_MAX_FAILURES as usize, "{judged} of 100 simultaneous wrong codes were judged");
    assert!(judged >= 1, "the first is judged");
    // What was judged was counted: at the limit, the network's right code waits too.
    if judged == NETWORK_MAX_FAILURES as usize {
        assert_limited(&fresh_try(&s, &attacker, &grant.str("user_code")).await, "from your network");
    }
    s.stop().await;
}

#[tokio::test]
async fn simultaneous_wrong_codes_on_memory() {
    simultaneous_wrong_codes(StoreKind::Memory).await;
}

#[tokio::test]
async fn simultaneous_wrong_codes_on_dynamodb() {
    simultaneous_wrong_codes(StoreKind::DynamoDb).await;
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
