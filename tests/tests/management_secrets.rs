//! What management writes do to the OAuth side at once, over HTTP on both stores: application
//! secrets (PING-MGMT §5.5) authenticate at the token endpoints as they are read, rotated with and
//! without a `previous` grace period and revoked, and never reach the table in clear; a disabled
//! or deleted application stops authenticating; a disabled or deleted user stops signing on and
//! loses sessions and refresh tokens, while a renamed one keeps them under the new name only.

use blackbox::admin::*;
use blackbox::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::Dialect;

fn confidential_tv(enabled: bool) -> Value {
    json!({
        "name": "Secret TV", "enabled": enabled, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC"
    })
}

fn public_tv(enabled: bool) -> Value {
    json!({
        "name": "Public TV", "enabled": enabled, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE", "REFRESH_TOKEN"], "tokenEndpointAuthMethod": "NONE"
    })
}

/// The status of a device authorization of `client_id` with `secret` in HTTP Basic.
async fn authenticates(s: &TestServer, client_id: &str, secret: &str) -> bool {
    let answer = s.device_authorization(Dialect::PingOne, Auth::Basic(client_id, secret), "openid").await;
    match answer.status {
        200 => true,
        401 => {
            assert_eq!(answer.json["error"], "invalid_client", "{answer:?}");
            false
        }
        _ => panic!("neither a grant nor invalid_client: {answer:?}"),
    }
}

/// Whether a worker gets a client_credentials token with `secret`.
async fn gets_token(s: &TestServer, worker_id: &str, secret: &str) -> bool {
    let url = s.url(&format!("/{ENV}/as/token"));
    let answer = s.post_form(&url, Auth::Basic(worker_id, secret), &[("grant_type", "client_credentials")]).await;
    match answer.status {
        200 => true,
        401 => false,
        _ => panic!("{answer:?}"),
    }
}

fn in_five_minutes(s: &TestServer) -> String {
    shared::management::hal::timestamp(s.clock.now_ms() + 300_000)
}

async fn secrets_rotate_and_authenticate_at_once(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let app = s.create_app(&admin, ENV, confidential_tv(true)).await;
    let id = app["id"].as_str().unwrap().to_owned();
    assert!(app["_links"]["secret"]["href"].as_str().unwrap().ends_with(&format!("/applications/{id}/secret")));
    let path = env_path(ENV, &format!("/applications/{id}/secret"));
    let mut seen =
        vec![demo::WEB_APP_SECRET.to_owned(), demo::ADMIN_APP_SECRET.to_owned(), WORKER_APP_SECRET.to_owned()];

    let read = s.api(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(read.status, 200, "{read:?}");
    assert!(read.json.get("previous").is_none(), "{read:?}");
    assert_eq!(read.json["_links"]["application"]["href"], app["_links"]["self"]["href"]);
    let first = read.str("secret");
    assert!(first.len() >= 32, "a long random secret: {first}");
    seen.push(first.clone());
    assert!(authenticates(&s, &id, &first).await);
    assert!(!authenticates(&s, &id, "not-the-secret").await);
    assert!(!authenticates(&s, &id, &first[1..]).await);

    // Rotated with a grace period: both work until it ends.
    let expires = in_five_minutes(&s);
    let rotated = s.api(Method::POST, &path, Some(&admin), Some(json!({"previous": {"expiresAt": expires}}))).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let second = rotated.str("secret");
    seen.push(second.clone());
    assert_ne!(second, first);
    assert_eq!(
        (rotated.json["previous"]["secret"].as_str(), rotated.json["previous"]["expiresAt"].as_str()),
        (Some(first.as_str()), Some(expires.as_str()))
    );
    assert!(authenticates(&s, &id, &second).await, "the new secret");
    assert!(authenticates(&s, &id, &first).await, "the previous secret, until it expires");
    let shown = s.api(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(
        (shown.str("secret"), shown.json["previous"]["secret"].as_str()),
        (second.clone(), Some(first.as_str()))
    );
    s.advance_s(301);
    assert!(!authenticates(&s, &id, &first).await, "the previous secret expired");
    assert!(authenticates(&s, &id, &second).await);
    assert!(s.api(Method::GET, &path, Some(&admin), None).await.json.get("previous").is_none());

    // DELETE ends the previous secret at once.
    let rotated =
        s.api(Method::POST, &path, Some(&admin), Some(json!({"previous": {"expiresAt": in_five_minutes(&s)}}))).await;
    let third = rotated.str("secret");
    seen.push(third.clone());
    assert!(authenticates(&s, &id, &second).await);
    let revoked = s.api(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(revoked.status, 204, "{revoked:?}");
    assert!(!authenticates(&s, &id, &second).await, "the previous secret was revoked");
    assert!(authenticates(&s, &id, &third).await);
    assert!(s.api(Method::GET, &path, Some(&admin), None).await.json.get("previous").is_none());

    // Without `previous` (no body, or an empty object) the old secret dies at once.
    for body in [None, Some(json!({}))] {
        let current = s.app_secret(&admin, ENV, &id).await;
        let rotated = s.api(Method::POST, &path, Some(&admin), body.clone()).await;
        assert_eq!(rotated.status, 200, "{body:?}: {rotated:?}");
        assert!(rotated.json.get("previous").is_none(), "{rotated:?}");
        let new = rotated.str("secret");
        seen.push(new.clone());
        assert!(!authenticates(&s, &id, &current).await, "{body:?}: the old secret died");
        assert!(authenticates(&s, &id, &new).await);
    }

    // A PUT keeps the secret; a public client has none; becoming confidential again makes a new one.
    let current = s.app_secret(&admin, ENV, &id).await;
    let item = env_path(ENV, &format!("/applications/{id}"));
    assert_eq!(s.api(Method::PUT, &item, Some(&admin), Some(confidential_tv(true))).await.status, 200);
    assert_eq!(s.app_secret(&admin, ENV, &id).await, current, "a PUT keeps the secret");
    let public = json!({"tokenEndpointAuthMethod": "NONE"});
    let mut body = confidential_tv(true);
    body["tokenEndpointAuthMethod"] = public["tokenEndpointAuthMethod"].clone();
    assert_eq!(s.api(Method::PUT, &item, Some(&admin), Some(body)).await.status, 200);
    TestServer::assert_p1_error(&s.api(Method::GET, &path, Some(&admin), None).await, 404, "NOT_FOUND");
    assert_eq!(s.api(Method::PUT, &item, Some(&admin), Some(confidential_tv(true))).await.status, 200);
    let renewed = s.app_secret(&admin, ENV, &id).await;
    seen.push(renewed.clone());
    assert_ne!(renewed, current);
    assert!(!authenticates(&s, &id, &current).await);
    assert!(authenticates(&s, &id, &renewed).await);

    // A worker's secret at the token endpoint, rotated with a grace period.
    let worker = s.create_worker(&admin, ENV, "Rotating worker").await;
    seen.push(worker.secret.clone());
    assert!(gets_token(&s, &worker.id, &worker.secret).await);
    let worker_path = env_path(ENV, &format!("/applications/{}/secret", worker.id));
    let rotated = s
        .api(Method::POST, &worker_path, Some(&admin), Some(json!({"previous": {"expiresAt": in_five_minutes(&s)}})))
        .await;
    let new = rotated.str("secret");
    seen.push(new.clone());
    assert!(gets_token(&s, &worker.id, &worker.secret).await && gets_token(&s, &worker.id, &new).await);
    s.advance_s(301);
    assert!(!gets_token(&s, &worker.id, &worker.secret).await);
    assert!(gets_token(&s, &worker.id, &new).await);

    // No secret in the table, in any attribute of any item.
    if let Some(dynamo) = &s.dynamo {
        let items = dynamo.scan_all().await.unwrap();
        assert!(items.len() > 10, "the table holds the directory: {}", items.len());
        for item in &items {
            let text = format!("{item:?}");
            for secret in &seen {
                assert!(!text.contains(secret.as_str()), "a secret in the table: {text}");
            }
        }
    }
    s.stop().await;
}

async fn disabled_or_deleted_apps_stop_at_once(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let public = s.create_app(&admin, ENV, public_tv(true)).await["id"].as_str().unwrap().to_owned();
    let confidential = s.create_app(&admin, ENV, confidential_tv(true)).await["id"].as_str().unwrap().to_owned();
    let secret = s.app_secret(&admin, ENV, &confidential).await;
    assert_eq!(device(&s, &public).await.status, 200);
    assert!(authenticates(&s, &confidential, &secret).await);

    for (id, body) in [(&public, public_tv(false)), (&confidential, confidential_tv(false))] {
        let item = env_path(ENV, &format!("/applications/{id}"));
        let disabled = s.api(Method::PUT, &item, Some(&admin), Some(body)).await;
        assert_eq!((disabled.status, disabled.json["enabled"].as_bool()), (200, Some(false)), "{disabled:?}");
    }
    let refused = device(&s, &public).await;
    assert_eq!((refused.status, refused.json["error"].as_str()), (401, Some("invalid_client")), "{refused:?}");
    assert!(!authenticates(&s, &confidential, &secret).await, "a disabled confidential app");
    let item = env_path(ENV, &format!("/applications/{public}"));
    assert_eq!(s.api(Method::PUT, &item, Some(&admin), Some(public_tv(true))).await.status, 200);
    assert_eq!(device(&s, &public).await.status, 200, "enabled again");

    for id in [&public, &confidential] {
        let deleted = s.api(Method::DELETE, &env_path(ENV, &format!("/applications/{id}")), Some(&admin), None).await;
        assert_eq!(deleted.status, 204, "{deleted:?}");
    }
    let refused = device(&s, &public).await;
    assert_eq!((refused.status, refused.json["error"].as_str()), (401, Some("invalid_client")), "{refused:?}");
    assert!(!authenticates(&s, &confidential, &secret).await, "a deleted app");
    s.stop().await;
}

async fn device(s: &TestServer, client_id: &str) -> Answer {
    s.device_authorization(Dialect::PingOne, Auth::Public(client_id), "openid").await
}

/// A sign-on through the flow API in a new browser: the answer.
async fn sign_on(s: &TestServer, username: &str, password: &str) -> Answer {
    let flow = s.start_flow(None).await;
    s.flow_action(&flow, "usernamePassword.check", json!({"username": username, "password": password})).await
}

/// Asserts a refused sign-on, answered exactly as a wrong password is.
async fn assert_sign_on_refused(s: &TestServer, username: &str, password: &str) {
    let wrong = sign_on(s, "demo", "not-the-password").await;
    let refused = sign_on(s, username, password).await;
    assert!(refused.status >= 400 && refused.status < 500, "{refused:?}");
    assert_eq!(
        (refused.status, &refused.json["code"], &refused.json["details"][0]["code"]),
        (wrong.status, &wrong.json["code"], &wrong.json["details"][0]["code"]),
        "{refused:?}"
    );
}

/// The status a new flow in `browser` starts in (a live session skips the sign-on).
async fn flow_status(s: &TestServer, browser: &reqwest::Client) -> String {
    let flow = s.start_flow_in(browser, None).await;
    s.get_flow(&flow).await.str("status")
}

async fn disabled_and_deleted_users_lose_sign_on_sessions_and_tokens(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let app = s.create_app(&admin, ENV, public_tv(true)).await["id"].as_str().unwrap().to_owned();

    for (username, ending) in [("disabled-user", "disable"), ("deleted-user", "delete")] {
        let password = "Sign-On-Pass1";
        let id = s.user_with_password(&admin, username, password).await;
        let browser = browser();
        let tokens = s.device_tokens(&browser, &app, username, password).await;
        let refreshed = s.refresh(&app, &tokens.str("refresh_token")).await;
        assert_eq!(refreshed.status, 200, "{refreshed:?}");
        let refresh_token = refreshed.str("refresh_token");
        assert_eq!(flow_status(&s, &browser).await, "DAG_USER_CODE_REQUIRED", "the session signs on");
        let item = env_path(ENV, &format!("/users/{id}"));
        if ending == "disable" {
            let disabled =
                s.api(Method::PUT, &format!("{item}/enabled"), Some(&admin), Some(json!({"enabled": false}))).await;
            assert_eq!((disabled.status, disabled.json["enabled"].as_bool()), (200, Some(false)), "{disabled:?}");
            let user = s.api(Method::GET, &item, Some(&admin), None).await;
            assert_eq!(
                (user.json["enabled"].as_bool(), user.json["account"]["canAuthenticate"].as_bool()),
                (Some(false), Some(false))
            );
            let shown = s.api(Method::GET, &format!("{item}/enabled"), Some(&admin), None).await;
            assert_eq!(shown.json["enabled"], false);
        } else {
            assert_eq!(s.api(Method::DELETE, &item, Some(&admin), None).await.status, 204);
            TestServer::assert_p1_error(&s.api(Method::GET, &item, Some(&admin), None).await, 404, "NOT_FOUND");
        }
        assert_sign_on_refused(&s, username, password).await;
        assert_eq!(flow_status(&s, &browser).await, "USERNAME_PASSWORD_REQUIRED", "{ending}: the session ended");
        let refused = s.refresh(&app, &refresh_token).await;
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (400, Some("invalid_grant")),
            "{ending}: {refused:?}"
        );

        if ending == "disable" {
            let enabled =
                s.api(Method::PUT, &format!("{item}/enabled"), Some(&admin), Some(json!({"enabled": true}))).await;
            assert_eq!(enabled.status, 200, "{enabled:?}");
            assert_eq!(sign_on(&s, username, password).await.json["status"], "DAG_USER_CODE_REQUIRED", "enabled again");
            let still = s.refresh(&app, &refresh_token).await;
            assert_eq!(still.json["error"], "invalid_grant", "enabling does not bring revoked tokens back: {still:?}");
        } else {
            // The username is free again; the new user is someone else.
            let again = s.user_with_password(&admin, username, password).await;
            assert_ne!(again, id);
            assert_eq!(flow_status(&s, &browser).await, "USERNAME_PASSWORD_REQUIRED", "not the old session");
            assert_eq!(s.refresh(&app, &refresh_token).await.json["error"], "invalid_grant");
        }
    }
    s.stop().await;
}

async fn renamed_users_keep_sessions_and_tokens_under_the_new_name(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let app = s.create_app(&admin, ENV, public_tv(true)).await["id"].as_str().unwrap().to_owned();
    let password = "Rename-Pass1";
    let id = s.user_with_password(&admin, "before-rename", password).await;
    let browser = browser();
    let tokens = s.device_tokens(&browser, &app, "before-rename", password).await;

    let item = env_path(ENV, &format!("/users/{id}"));
    let renamed = s.api(Method::PATCH, &item, Some(&admin), Some(json!({"username": "after-rename"}))).await;
    assert_eq!((renamed.status, renamed.json["username"].as_str()), (200, Some("after-rename")), "{renamed:?}");
    assert_eq!(renamed.json["email"], "before-rename@example.com", "a PATCH changes only what it sends");

    assert_eq!(sign_on(&s, "after-rename", password).await.json["status"], "DAG_USER_CODE_REQUIRED", "the new name");
    assert_sign_on_refused(&s, "before-rename", password).await;
    assert_eq!(flow_status(&s, &browser).await, "DAG_USER_CODE_REQUIRED", "the session outlives the rename");
    let refreshed = s.refresh(&app, &tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "the refresh token outlives the rename: {refreshed:?}");

    // A rename by PUT, too; and the old names are free for others.
    let put = s
        .api(Method::PUT, &item, Some(&admin), Some(json!({"username": "third-name", "email": "third@example.com"})))
        .await;
    assert_eq!((put.status, put.json["username"].as_str()), (200, Some("third-name")), "{put:?}");
    assert_eq!(sign_on(&s, "third-name", password).await.json["status"], "DAG_USER_CODE_REQUIRED");
    assert_sign_on_refused(&s, "after-rename", password).await;
    for old in ["before-rename", "after-rename"] {
        let taken = s.create_user(&admin, json!({"username": old, "email": format!("{old}@example.com")})).await;
        assert_eq!(taken.status, 201, "{old} is free: {taken:?}");
    }
    assert_eq!(s.refresh(&app, &refreshed.str("refresh_token")).await.status, 200);
    s.stop().await;
}

on_both_stores!(
    secrets_rotate_and_authenticate_at_once,
    disabled_or_deleted_apps_stop_at_once,
    disabled_and_deleted_users_lose_sign_on_sessions_and_tokens,
    renamed_users_keep_sessions_and_tokens_under_the_new_name,
);
