//! What JWT client authentication costs in store requests: a `PRIVATE_KEY_JWT` device's pending
//! poll is the public client's one request (the poll's conditional update) plus one (the
//! conditional write that makes its assertion's `jti` single-use); the keys come from the
//! application record, which the instance caches, so they cost nothing per poll. On DynamoDB the
//! requests are the ones the SDK sends (retries included), on the embedded store its store calls.

use blackbox::budget::metered_server;
use blackbox::jose::*;
use blackbox::*;
use serde_json::{json, Value};
use shared::Dialect;

async fn pending_poll_budget(kind: StoreKind) {
    let (s, meter) = metered_server(kind).await;
    let admin = s.admin_token().await;
    let (private, public) = keygen("ES256");
    let body = json!({
        "name": "Signed TV", "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "PRIVATE_KEY_JWT",
        "jwks": jwks(&[&public]).to_string(),
    });
    let id = s.create_app(&admin, ENV, body).await["id"].as_str().unwrap().to_owned();
    let p1 = Dialect::PingOne;
    let assertion =
        |s: &TestServer| sign("ES256", &private, json!({"kid": kid(&public)}), claims(s, &id, s.issuer(p1)));
    let grant = s.post_assertion(&s.device_authorization_url(p1), None, &assertion(&s), &[("scope", "openid")]).await;
    assert_eq!(grant.status, 200, "{grant:?}");
    let device_code = grant.str("device_code");
    meter.take(&s);

    let poll = |assertion: String| {
        let s = &s;
        let device_code = device_code.clone();
        async move {
            let fields =
                [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", &device_code)];
            s.post_assertion(&s.token_url(p1), None, &assertion, &fields).await
        }
    };
    let pending = poll(assertion(&s)).await;
    assert_eq!(pending.json["error"], "authorization_pending", "{pending:?}");
    let step = meter.take(&s);
    println!(
        "{kind:?}: a PRIVATE_KEY_JWT pending poll costs {} {}: {:?}",
        step.requests,
        meter.unit(),
        step.operations
    );
    assert_eq!(step.store_calls.get("claim_assertion"), Some(&1), "{step:?}");
    assert_eq!(step.requests, 2, "a JWT-authenticated pending poll: the poll and the jti ({step:?})");
    if kind == StoreKind::DynamoDb {
        assert_eq!(step.operations(), ["UpdateItem", "UpdateItem"], "the jti, the poll: {step:?}");
    }

    // A replayed assertion costs the same one write and is refused before the poll is touched.
    s.advance_s(6);
    let replay = assertion(&s);
    assert_eq!(poll(replay.clone()).await.json["error"], "authorization_pending");
    meter.take(&s);
    s.advance_s(6);
    let refused: Value = poll(replay).await.json;
    assert_eq!(refused["error"], "invalid_client");
    let step = meter.take(&s);
    assert_eq!(step.requests, 1, "a replay: only the jti write ({step:?})");
    if kind == StoreKind::DynamoDb {
        assert_eq!(step.operations(), ["UpdateItem"], "the jti: {step:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn jwt_pending_poll_budget_memory() {
    pending_poll_budget(StoreKind::Memory).await;
}

#[tokio::test]
async fn jwt_pending_poll_budget_dynamodb() {
    pending_poll_budget(StoreKind::DynamoDb).await;
}
