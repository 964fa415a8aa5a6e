//! The full device flow over HTTP against the local server, on both stores and in both dialects,
//! with the request budget of every step and what a table scan may find.

use blackbox::budget::{measure_code_budget, measure_request_budget};
use blackbox::*;
use serde_json::Value;
use shared::Dialect;

const SCOPE: &str = "openid profile email offline_access";

async fn full_flow(kind: StoreKind, dialect: Dialect) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let grant = s.device_authorization(dialect, auth, SCOPE).await;
    assert_eq!(grant.status, 200, "{grant:?}");
    assert_eq!(grant.header("cache-control"), Some("no-store"));
    let user_code = grant.str("user_code");
    let device_code = grant.str("device_code");
    assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-', "XXXX-XXXX: {user_code}");
    assert!(device_code.len() >= 43, "256 bits, base64url");
    let expected_uri = match dialect {
        Dialect::PingOne => s.url(&format!("/{ENV}/device/tv")),
        Dialect::PingFederate => s.url("/as/user_authz.oauth2"),
    };
    assert_eq!(grant.str("verification_uri"), expected_uri);
    assert_eq!(grant.str("verification_uri_complete"), format!("{expected_uri}?user_code={user_code}"));
    assert_eq!((grant.json["expires_in"].as_u64(), grant.json["interval"].as_u64()), (Some(600), Some(5)));

    let pending = s.poll(dialect, auth, &device_code).await;
    pending.assert_oauth_error(
        400,
        "authorization_pending",
        "The authorization request is still pending; poll again after the interval.",
    );

    s.approve(&user_code, true).await;
    s.advance_s(5);
    let tokens = s.poll(dialect, auth, &device_code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(tokens.json["token_type"], "Bearer");
    assert_eq!(tokens.json["scope"], SCOPE);
    assert_eq!(tokens.json["expires_in"], 3600);

    let jwks: Value = s.http.get(s.jwks_url(dialect)).send().await.unwrap().json().await.unwrap();
    let issuer = s.issuer(dialect);
    let (typ, access) = verify_jwt(&tokens.str("access_token"), &jwks, &issuer, &issuer);
    assert_eq!(typ, "at+jwt", "RFC 9068 access token type");
    assert_eq!(access["sub"], demo::USER_ID);
    assert_eq!(access["client_id"], DEVICE_APP_ID);
    assert_eq!(access["scope"], SCOPE);
    assert!(access["jti"].is_string() && access["sid"].is_string() && access["auth_time"].is_i64());
    let (_, id) = verify_jwt(&tokens.str("id_token"), &jwks, &issuer, DEVICE_APP_ID);
    assert_eq!(id["sub"], demo::USER_ID);
    assert_eq!(id["preferred_username"], "demo");
    assert_eq!(id["given_name"], "Demo");
    assert_eq!(id["email"], "demo@example.com");
    assert_eq!(id["sid"], access["sid"]);
    assert_eq!(id["at_hash"], shared::tokens::at_hash(&tokens.str("access_token")));
    assert!(tokens.str("refresh_token").len() > 40, "the app has REFRESH_TOKEN");

    s.advance_s(5);
    let replay = s.poll(dialect, auth, &device_code).await;
    replay.assert_oauth_error(400, "invalid_grant", "Device code not found, expired or invalid");
    s.stop().await;
}

/// The first poll after approval redeems, however soon it comes after the last one (the request
/// is no longer pending, and `slow_down` is a kind of pending); its refresh token rotates (the
/// approval started the family); the next poll is a second redemption.
async fn early_first_poll_after_approval(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let p1 = Dialect::PingOne;
    let grant = s.device_authorization(p1, auth, "openid offline_access").await;
    assert_eq!(grant.status, 200, "{grant:?}");
    let device_code = grant.str("device_code");
    s.poll(p1, auth, &device_code).await.assert_oauth_error(
        400,
        "authorization_pending",
        "The authorization request is still pending; poll again after the interval.",
    );
    s.approve(&grant.str("user_code"), true).await;
    s.advance_s(1);
    let tokens = s.poll(p1, auth, &device_code).await;
    assert_eq!(tokens.status, 200, "the first poll after approval, 1 s after the last: {tokens:?}");
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens.json["refresh_token"].as_str().unwrap())];
    let rotated = s.post_form(&s.token_url(p1), auth, &refresh).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let replay = s.poll(p1, auth, &device_code).await;
    replay.assert_oauth_error(400, "invalid_grant", "Device code not found, expired or invalid");
    let revoked = s
        .post_form(
            &s.token_url(p1),
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &rotated.str("refresh_token"))],
        )
        .await;
    assert_eq!(revoked.status, 400, "a second redemption revokes the family: {revoked:?}");
    s.stop().await;
}

#[tokio::test]
async fn early_first_poll_after_approval_on_memory() {
    early_first_poll_after_approval(StoreKind::Memory).await;
}

#[tokio::test]
async fn early_first_poll_after_approval_on_dynamodb() {
    early_first_poll_after_approval(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn full_flow_on_memory_in_both_dialects() {
    for dialect in BOTH_DIALECTS {
        full_flow(StoreKind::Memory, dialect).await;
    }
}

#[tokio::test]
async fn full_flow_on_dynamodb_in_both_dialects() {
    for dialect in BOTH_DIALECTS {
        full_flow(StoreKind::DynamoDb, dialect).await;
    }
}

/// Requests of each step, asserted against the budget (`cargo run -p blackbox --bin request-budget`
/// prints the same figures): on DynamoDB the requests the SDK sends, retries included, and their
/// operations; on the embedded store its store calls.
/// With `holds_codes` (`FLOW_API_HOLDS_VERIFIED_CODES`, what the hosted pages always do) the
/// verification writes nothing: N + 5; without it, N + 6.
async fn request_budget(kind: StoreKind, holds_codes: bool) {
    let b = measure_request_budget(kind, holds_codes).await;
    println!("{}", b.report());
    assert_eq!(b.cold_cache_requests(), 1, "a cold instance loads the environment's applications once");
    assert_eq!(b.device_authorization.requests, 1, "device authorization is one write");
    assert_eq!(b.flow_start.requests, 0, "flow start writes nothing");
    assert!(
        b.pending_polls.iter().all(|p| p.requests == 1),
        "every pending poll is one request: {:?}",
        b.pending_polls
    );
    assert_eq!(b.slow_down_poll.requests, 1, "a slow_down poll is one request");
    assert_eq!(b.login.requests, 2, "login: the user and its counters in one read, the flow write under the limits");
    let verify = if holds_codes { 1 } else { 2 };
    assert_eq!(b.verify.requests, verify, "verify: one guarded try of the code (and the flow write unless held)");
    assert_eq!(b.consent.requests, 1, "consent: one transaction (the flow as the instance last answered it)");
    assert_eq!(b.token_issue.requests, 1, "a successful token issue: the poll's append, which claims the redemption");
    let others = if holds_codes { 5 } else { 6 };
    assert_eq!(b.whole_flow(), b.polls() + others, "whole flow N + {others}: {} for N = {}", b.whole_flow(), b.polls());
    if kind == StoreKind::DynamoDb {
        assert_eq!(
            b.cold_device_authorization.operations(),
            ["Query", "TransactWriteItems"],
            "the applications, the grant"
        );
        assert_eq!(b.device_authorization.operations(), ["TransactWriteItems"], "grant and user code together");
        for poll in b.pending_polls.iter().chain([&b.slow_down_poll]) {
            assert_eq!(poll.operations(), ["UpdateItem"], "a poll is one conditional append");
        }
        assert_eq!(
            b.login.operations(),
            ["BatchGetItem", "TransactWriteItems"],
            "user and counters, the flow write with a check of each limit"
        );
        let verify: &[&str] = if holds_codes { &["TransactWriteItems"] } else { &["TransactWriteItems", "UpdateItem"] };
        assert_eq!(b.verify.operations(), verify, "the guarded try (the flow write)");
        assert_eq!(
            b.consent.operations(),
            ["TransactWriteItems"],
            "flow (with the held grant) and grant decided, conditionally"
        );
        assert_eq!(b.token_issue.operations(), ["UpdateItem"], "the append and the claim of the redemption");
    }
}

#[tokio::test]
async fn request_budget_on_memory() {
    for holds_codes in [false, true] {
        request_budget(StoreKind::Memory, holds_codes).await;
    }
}

async fn code_budget(kind: StoreKind) {
    let b = measure_code_budget(kind).await;
    println!("{}", b.report());
    assert_eq!(b.authorize.requests, 1, "authorize stores its flow");
    assert_eq!(b.login.requests, 2, "sign-on: user and counters, the flow write under the limits");
    assert_eq!(b.consent.requests, 0, "no consent step (PingOne)");
    assert_eq!(b.resume.requests, 1, "resume: one transaction storing the code (the flow as last answered)");
    assert_eq!(b.token.requests, 1, "code redemption is one conditional write");
    assert_eq!(b.refresh.requests, 1, "a refresh is one conditional write");
    if kind == StoreKind::DynamoDb {
        assert_eq!(b.authorize.operations(), ["PutItem"]);
        assert_eq!(b.login.operations(), ["BatchGetItem", "TransactWriteItems"]);
        assert_eq!(b.resume.operations(), ["TransactWriteItems"]);
        assert_eq!(b.token.operations(), ["UpdateItem"]);
        assert_eq!(b.refresh.operations(), ["UpdateItem"]);
    }
}

#[tokio::test]
async fn code_flow_budget_on_memory() {
    code_budget(StoreKind::Memory).await;
}

#[tokio::test]
async fn code_flow_budget_on_dynamodb() {
    code_budget(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn request_budget_on_dynamodb() {
    for holds_codes in [false, true] {
        request_budget(StoreKind::DynamoDb, holds_codes).await;
    }
}

/// After a whole flow, nothing in the table holds a raw device code, user code, password, client
/// secret or refresh token.
#[tokio::test]
async fn dynamodb_table_holds_no_raw_secrets() {
    let s = TestServer::start(StoreKind::DynamoDb).await;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let grant = s.device_authorization(Dialect::PingOne, auth, "openid offline_access").await;
    assert_eq!(grant.status, 200, "{grant:?}");
    s.approve(&grant.str("user_code"), true).await;
    let tokens = s.poll(Dialect::PingOne, auth, &grant.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let refresh = tokens.str("refresh_token");
    let refresh_secret = refresh.split_once('.').unwrap().1.to_owned();

    let items = s.dynamo.as_ref().unwrap().scan_all().await.unwrap();
    assert!(items.len() >= 6, "apps, user, grant, user code and flow are all there: {}", items.len());
    let dump = format!("{items:?}");
    let user_code = grant.str("user_code");
    let forbidden = [
        ("device code", grant.str("device_code")),
        ("user code", user_code.clone()),
        ("user code without dash", user_code.replace('-', "")),
        ("password", demo::PASSWORD.to_owned()),
        ("client secret", WEB_APP_SECRET.to_owned()),
        ("refresh token secret", refresh_secret),
    ];
    for (what, value) in forbidden {
        assert!(!dump.contains(&value), "the table holds a raw {what}");
    }
    s.stop().await;
}
