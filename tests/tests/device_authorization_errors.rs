//! Every error of the device authorization endpoint, on both stores and in both dialects, with
//! PingFederate's exact bodies where Ping documents them (seed 001).

use blackbox::*;
use reqwest::header::CONTENT_TYPE;

const INVALID_CLIENT: &str = "Invalid client or client credentials.";
const INVALID_SCOPE: &str = "The requested scope(s) must be blank or a subset of the provided scopes.";

async fn errors(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    for dialect in BOTH_DIALECTS {
        let url = s.device_authorization_url(dialect);

        let unknown = s.device_authorization(dialect, Auth::Public("no-such-client"), "openid").await;
        unknown.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);
        assert_eq!(unknown.header("www-authenticate"), None, "no Basic tried, no challenge");
        // PingFederate's field order: error_description first.
        let raw = s
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("client_id=nobody")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(raw, format!(r#"{{"error_description":"{INVALID_CLIENT}","error":"invalid_client"}}"#));

        let wrong_secret = s.device_authorization(dialect, Auth::Basic(WEB_APP_ID, "wrong"), "openid").await;
        wrong_secret.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);
        assert!(wrong_secret.header("www-authenticate").unwrap().starts_with("Basic"), "Basic tried: challenge");
        // A raw `&` is part of the secret (the decoder once ended the value there, so the right
        // secret followed by `&` and anything authenticated).
        let longer = format!("{WEB_APP_SECRET}&anything");
        let ampersand = s.device_authorization(dialect, Auth::Basic(WEB_APP_ID, &longer), "openid").await;
        ampersand.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);

        let wrong_method = s.device_authorization(dialect, Auth::Post(WEB_APP_ID, WEB_APP_SECRET), "openid").await;
        wrong_method.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);
        let public_with_secret = s.device_authorization(dialect, Auth::Post(DEVICE_APP_ID, "x"), "openid").await;
        public_with_secret.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);

        let no_device_grant = s.device_authorization(dialect, Auth::Basic(WORKER_APP_ID, WORKER_APP_SECRET), "").await;
        no_device_grant.assert_oauth_error(
            400,
            "unauthorized_client",
            "The client is not authorized to use the urn:ietf:params:oauth:grant-type:device_code grant type.",
        );

        let bad_scope = s.device_authorization(dialect, Auth::Public(DEVICE_APP_ID), "openid admin").await;
        bad_scope.assert_oauth_error(400, "invalid_scope", INVALID_SCOPE);

        let repeated = s
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("client_id={DEVICE_APP_ID}&scope=openid&scope=profile"))
            .send()
            .await
            .unwrap();
        Answer::read(repeated).await.assert_oauth_error(
            400,
            "invalid_request",
            "The parameter 'scope' must not be included more than once.",
        );

        let json_body = s
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .body(format!(r#"{{"client_id":"{DEVICE_APP_ID}"}}"#))
            .send()
            .await
            .unwrap();
        Answer::read(json_body).await.assert_oauth_error(
            400,
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded.",
        );

        let no_client = s.post_form(&url, Auth::Public(""), &[]).await;
        // No client authentication at all is invalid_client (RFC 6749 §5.2).
        no_client.assert_oauth_error(401, "invalid_client", "Invalid client or client credentials.");

        let get = Answer::read(s.http.get(&url).send().await.unwrap()).await;
        assert_eq!(get.status, 405, "RFC 8628 §3.1: POST only");
        assert_eq!(get.header("allow"), Some("POST"));

        // What works: unknown parameters are ignored; Basic and post secrets; blank scope.
        let ok = s.post_form(&url, Auth::Public(DEVICE_APP_ID), &[("scope", "openid"), ("foo", "bar")]).await;
        assert_eq!(ok.status, 200, "{ok:?}");
        let basic = s.device_authorization(dialect, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), "openid").await;
        assert_eq!(basic.status, 200, "{basic:?}");
        let post = s.device_authorization(dialect, Auth::Post(POST_APP_ID, POST_APP_SECRET), "").await;
        assert_eq!(post.status, 200, "{post:?}");
        assert_eq!(post.str("user_code").len(), 12, "a 10-character code shows as XXXX-XXXX-XX");
    }
    s.stop().await;
}

#[tokio::test]
async fn device_authorization_errors_on_memory() {
    errors(StoreKind::Memory).await;
}

#[tokio::test]
async fn device_authorization_errors_on_dynamodb() {
    errors(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn unknown_routes_and_environments_are_not_found() {
    let s = TestServer::start(StoreKind::Memory).await;
    for path in ["/nope", "/as/nothing.oauth2", "/not-a-uuid/as/token"] {
        let answer = Answer::read(s.http.get(s.url(path)).send().await.unwrap()).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.json["code"], "NOT_FOUND");
    }
    // An environment with no applications knows no clients.
    let other = "11111111-2222-4333-8444-555555555555";
    let answer =
        s.post_form(&s.url(&format!("/{other}/as/device_authorization")), Auth::Public(DEVICE_APP_ID), &[]).await;
    answer.assert_oauth_error(401, "invalid_client", INVALID_CLIENT);
    s.stop().await;
}
