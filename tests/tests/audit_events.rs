//! Audit events: every state change of the device flow, the code flow, refresh, revocation and
//! sign-off records one event in PingOne's audit shape, in order, naming the actors and
//! resources, and no event holds a secret, code or token. Both stores.

use blackbox::*;
use serde_json::{json, Value};
use shared::audit::AuditEvent;
use shared::Dialect;

const P1: Dialect = Dialect::PingOne;

/// The action types and results, in order, with the events as JSON.
fn drain(s: &TestServer) -> (Vec<String>, Vec<Value>) {
    let events: Vec<AuditEvent> = s.audit.take();
    let json: Vec<Value> = events.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
    let names = json
        .iter()
        .map(|e| format!("{} {}", e["action"]["type"].as_str().unwrap(), e["result"]["status"].as_str().unwrap()))
        .collect();
    (names, json)
}

fn assert_clean(events: &[Value], secrets: &[&str]) {
    for event in events {
        let text = event.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "an audit event holds a secret: {text}");
        }
        assert_eq!(event["environment"]["id"], ENV);
        assert!(event["correlationId"].as_str().is_some_and(|c| !c.is_empty()), "{event}");
        assert!(event["recordedAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{event}");
    }
}

async fn walk(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);

    // Device flow: authorization, wrong password, sign-on, wrong code, right code, approval,
    // tokens; then a second redemption.
    let grant = s.device_authorization(P1, auth, "openid offline_access").await;
    let (device_code, user_code) = (grant.str("device_code"), grant.str("user_code"));
    let flow = s.start_flow(None).await;
    let wrong =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "nope-nope"})).await;
    assert_eq!(wrong.status, 400);
    s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": demo::PASSWORD})).await;
    let bad = s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": "BCDFGHJK"})).await;
    assert_eq!(bad.status, 400);
    s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": user_code})).await;
    s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    let tokens = s.poll(P1, auth, &device_code).await;
    assert_eq!(tokens.status, 200);
    let replay = s.poll(P1, auth, &device_code).await;
    assert_eq!(replay.status, 400);
    let (names, events) = drain(&s);
    assert_eq!(
        names,
        [
            "DEVICE_AUTHORIZATION.CREATED SUCCESS",
            "PASSWORD.CHECK FAILED",
            "PASSWORD.CHECK SUCCESS",
            "DEVICE_AUTHORIZATION.USER_CODE_CHECKED FAILED",
            "DEVICE_AUTHORIZATION.USER_CODE_CHECKED SUCCESS",
            "DEVICE_AUTHORIZATION.CONSENT SUCCESS",
            "TOKEN.ISSUED SUCCESS",
            "GRANT.REUSE_DETECTED FAILED",
        ]
    );
    assert!(events[1]["result"]["description"].as_str().unwrap().starts_with("INVALID_CREDENTIALS"), "{}", events[1]);
    assert_eq!(events[2]["actors"]["user"], json!({"id": demo::USER_ID, "type": "USER"}));
    assert_eq!(events[5]["actors"]["client"]["id"], WEB_APP_ID);
    assert_eq!(events[5]["result"]["description"], "Approved.");
    let grant_id = events[0]["resources"][0]["id"].clone();
    assert_eq!(events[0]["resources"][0]["type"], "GRANT");
    assert!(events[6]["resources"].as_array().unwrap().iter().any(|r| r["id"] == grant_id), "tokens name their grant");
    assert_eq!(events[7]["resources"][0]["id"], grant_id);
    let (access, refresh) = (tokens.str("access_token"), tokens.str("refresh_token"));
    assert_clean(&events, &[&device_code, &user_code, &user_code.replace('-', ""), &access, &refresh, demo::PASSWORD]);
    // The replay revoked the first redemption's tokens.
    let introspect = s.url(&format!("/{ENV}/as/introspect"));
    assert_eq!(s.post_form(&introspect, auth, &[("token", &refresh)]).await.json, json!({"active": false}));
    s.audit.take();

    // Code flow (no consent step), refresh rotation, reuse, revocation, sign-off.
    let code = s.code_for(P1, WEB_APP_ID, "openid offline_access").await;
    let tokens = s.redeem(P1, auth, &code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let first = tokens.str("refresh_token");
    let token_url = s.token_url(P1);
    let rotated = s.post_form(&token_url, auth, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(rotated.status, 200);
    let reused = s.post_form(&token_url, auth, &[("grant_type", "refresh_token"), ("refresh_token", &first)]).await;
    assert_eq!(reused.status, 400);
    let code2 = s.code_for(P1, WEB_APP_ID, "openid offline_access").await;
    let tokens2 = s.redeem(P1, auth, &code2).await;
    let revoke = s.url(&format!("/{ENV}/as/revoke"));
    assert_eq!(s.post_form(&revoke, auth, &[("token", &tokens2.str("refresh_token"))]).await.status, 200);
    let (names, events) = drain(&s);
    assert_eq!(
        names,
        [
            "PASSWORD.CHECK SUCCESS",
            "AUTHORIZATION_CODE.ISSUED SUCCESS",
            "TOKEN.ISSUED SUCCESS",
            "REFRESH_TOKEN.ROTATED SUCCESS",
            "TOKEN.ISSUED SUCCESS",
            "GRANT.REUSE_DETECTED FAILED",
            "PASSWORD.CHECK SUCCESS",
            "AUTHORIZATION_CODE.ISSUED SUCCESS",
            "TOKEN.ISSUED SUCCESS",
            "TOKEN.REVOKED SUCCESS",
        ]
    );
    let secrets = [
        code.as_str(),
        code2.as_str(),
        &tokens.str("access_token"),
        &first,
        &rotated.str("refresh_token"),
        &tokens2.str("refresh_token"),
        WEB_APP_SECRET,
    ];
    assert_clean(&events, &secrets);
    // Each request's events carry its own correlation id.
    assert_ne!(events[0]["correlationId"], events[1]["correlationId"], "sign-on and resume are two requests");
    assert_eq!(events[1]["actors"]["user"]["id"], demo::USER_ID);

    // An app with a consent step: the approval is its own event.
    s.code_for(P1, SPA_APP_ID, "openid").await;
    let (names, _) = drain(&s);
    assert_eq!(names, ["PASSWORD.CHECK SUCCESS", "AUTHORIZATION.CONSENT SUCCESS", "AUTHORIZATION_CODE.ISSUED SUCCESS"]);

    // Sign-off.
    let person = browser();
    let flow = s.start_flow_in(&person, None).await;
    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": demo::PASSWORD})).await;
    assert_eq!(login.status, 200);
    let signoff = person.get(s.url(&format!("/{ENV}/as/signoff"))).send().await.unwrap();
    assert!(signoff.status().is_success() || signoff.status().is_redirection(), "{signoff:?}");
    let (names, events) = drain(&s);
    assert_eq!(names, ["PASSWORD.CHECK SUCCESS", "SESSION.DELETED SUCCESS"]);
    assert_eq!(events[1]["actors"]["user"]["id"], demo::USER_ID);
    s.stop().await;
}

#[tokio::test]
async fn every_state_change_is_audited_in_order_on_memory() {
    walk(StoreKind::Memory).await;
}

#[tokio::test]
async fn every_state_change_is_audited_in_order_on_dynamodb() {
    walk(StoreKind::DynamoDb).await;
}
