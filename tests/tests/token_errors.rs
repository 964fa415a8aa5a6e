//! Every answer of the token endpoint's device_code grant (RFC 8628 §3.5) on both stores, in both
//! dialects: pending, slow_down with the interval growing, denied, expired, replayed, foreign.

use blackbox::*;
use shared::Dialect;

const PENDING: &str = "The authorization request is still pending; poll again after the interval.";
const INVALID_GRANT: &str = "Device code not found, expired or invalid";

async fn new_grant(s: &TestServer, dialect: Dialect, auth: Auth<'_>) -> (String, String) {
    let grant = s.device_authorization(dialect, auth, "openid").await;
    assert_eq!(grant.status, 200, "{grant:?}");
    (grant.str("device_code"), grant.str("user_code"))
}

async fn token_errors(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    for dialect in BOTH_DIALECTS {
        let url = s.token_url(dialect);
        let missing_grant = s.post_form(&url, auth, &[]).await;
        missing_grant.assert_oauth_error(400, "invalid_request", "The grant_type parameter is required.");
        let unsupported = s.post_form(&url, auth, &[("grant_type", "password")]).await;
        unsupported.assert_oauth_error(400, "unsupported_grant_type", "The grant type 'password' is not supported.");
        let missing_code = s.post_form(&url, auth, &[("grant_type", DEVICE_GRANT)]).await;
        missing_code.assert_oauth_error(400, "invalid_request", "The device_code parameter is required.");
        s.poll(dialect, auth, "made-up").await.assert_oauth_error(400, "invalid_grant", INVALID_GRANT);
        s.poll(dialect, Auth::Public("nobody"), "made-up").await.assert_oauth_error(
            401,
            "invalid_client",
            "Invalid client or client credentials.",
        );
        let worker = s.poll(dialect, Auth::Basic(WORKER_APP_ID, WORKER_APP_SECRET), "x").await;
        worker.assert_oauth_error(
            400,
            "unauthorized_client",
            "The client is not authorized to use the urn:ietf:params:oauth:grant-type:device_code grant type.",
        );

        // slow_down: too early, and the interval grows by 5 s for good (RFC 8628 §3.5).
        let (device_code, _) = new_grant(&s, dialect, auth).await;
        s.poll(dialect, auth, &device_code).await.assert_oauth_error(400, "authorization_pending", PENDING);
        s.advance_s(4);
        let fast = s.poll(dialect, auth, &device_code).await;
        fast.assert_oauth_error(400, "slow_down", "Polling too fast; wait at least 10 seconds between requests.");
        s.advance_s(9);
        let still_fast = s.poll(dialect, auth, &device_code).await;
        still_fast.assert_oauth_error(400, "slow_down", "Polling too fast; wait at least 15 seconds between requests.");
        s.advance_s(15);
        s.poll(dialect, auth, &device_code).await.assert_oauth_error(400, "authorization_pending", PENDING);

        // Another client's device code is unknown to this client.
        let (other_code, _) = new_grant(&s, dialect, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET)).await;
        s.poll(dialect, auth, &other_code).await.assert_oauth_error(400, "invalid_grant", INVALID_GRANT);

        // Denied (seed 000's text).
        let (denied_code, denied_user_code) = new_grant(&s, dialect, auth).await;
        s.approve(&denied_user_code, false).await;
        s.poll(dialect, auth, &denied_code).await.assert_oauth_error(
            400,
            "access_denied",
            "Authorization request is denied",
        );

        // Expired (seed 000's text), and the person can no longer enter the code.
        let (expired_code, expired_user_code) = new_grant(&s, dialect, auth).await;
        s.advance_s(600);
        s.poll(dialect, auth, &expired_code).await.assert_oauth_error(
            400,
            "expired_token",
            "The authorization request has expired.",
        );
        let flow = s.start_flow(None).await;
        s.flow_action(
            &flow,
            "usernamePassword.check",
            serde_json::json!({"username": "demo", "password": "demo-password"}),
        )
        .await;
        let late = s
            .flow_action(&flow, "deviceAuthGrant.userCode.verify", serde_json::json!({"userCode": expired_user_code}))
            .await;
        assert_eq!(late.status, 400, "{late:?}");
        assert_eq!(
            late.json["details"][0]["message"],
            "The code has expired. Start again on your device to get a new code."
        );

        // Approved then redeemed once: a confidential client with Basic, RS256 not needed here.
        let web = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
        let (web_code, web_user_code) = new_grant(&s, dialect, web).await;
        s.approve(&web_user_code, true).await;
        let tokens = s.poll(dialect, web, &web_code).await;
        assert_eq!(tokens.status, 200, "{tokens:?}");
        s.advance_s(5);
        s.poll(dialect, web, &web_code).await.assert_oauth_error(400, "invalid_grant", INVALID_GRANT);
        s.advance_s(700);
        s.poll(dialect, web, &web_code).await.assert_oauth_error(400, "invalid_grant", INVALID_GRANT);
    }
    s.stop().await;
}

#[tokio::test]
async fn token_errors_on_memory() {
    token_errors(StoreKind::Memory).await;
}

#[tokio::test]
async fn token_errors_on_dynamodb() {
    token_errors(StoreKind::DynamoDb).await;
}

/// client_secret_post and RS256 tokens, selectable per application.
#[tokio::test]
async fn rs256_application_gets_rs256_tokens() {
    let s = TestServer::start(StoreKind::Memory).await;
    let auth = Auth::Post(POST_APP_ID, POST_APP_SECRET);
    let (device_code, user_code) = new_grant(&s, Dialect::PingOne, auth).await;
    s.approve(&user_code, true).await;
    let tokens = s.poll(Dialect::PingOne, auth, &device_code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let header = jsonwebtoken::decode_header(tokens.str("access_token")).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert!(tokens.json.get("refresh_token").is_none(), "no REFRESH_TOKEN grant, no refresh token");
    let jwks: serde_json::Value = s.http.get(s.jwks_url(Dialect::PingOne)).send().await.unwrap().json().await.unwrap();
    let issuer = s.issuer(Dialect::PingOne);
    verify_jwt(&tokens.str("id_token"), &jwks, &issuer, POST_APP_ID);
    s.stop().await;
}
