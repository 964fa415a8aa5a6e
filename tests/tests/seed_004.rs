//! Seed 004, "Configure Device Authorization Grant Flow", end to end in PingOne's shapes: the
//! worker token, then an application (found by its `devicePathId`), a population, a user and its
//! password through the management API, then the device flow for that user, whose access token's
//! `sub` is the new user's id. On both stores.

use blackbox::*;
use reqwest::Method;
use serde_json::json;
use shared::Dialect;

/// Steps 1-4; returns (application id, devicePathId, user id).
pub async fn configure(s: &TestServer, token: &str, tag: &str) -> (String, String, String) {
    let path_id = format!("device-{tag}");
    let app = s
        .api(
            Method::POST,
            &format!("/environments/{ENV}/applications"),
            Some(token),
            Some(json!({
                "enabled": true, "name": format!("Device-App-{tag}"), "description": "App for Device Auth Grant",
                "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
                "grantTypes": ["DEVICE_CODE", "REFRESH_TOKEN"],
                "deviceTimeout": 600, "devicePollingInterval": 5, "devicePathId": path_id,
                "tokenEndpointAuthMethod": "NONE"
            })),
        )
        .await;
    assert_eq!(app.status, 201, "{app:?}");
    let app_id = app.str("id");
    assert_eq!(app.json["clientId"], app_id.as_str());
    assert_eq!(app.header("location"), app.json["_links"]["self"]["href"].as_str(), "Location is the resource");
    assert_eq!(app.json["_links"]["environment"]["href"], s.url(&format!("/v1/environments/{ENV}")));
    assert_eq!(app.json["environment"]["id"], ENV);
    assert_eq!(
        (app.json["deviceTimeout"].as_u64(), app.json["pkceEnforcement"].as_str()),
        (Some(600), Some("OPTIONAL"))
    );
    let created = app.str("createdAt");
    assert!(created.ends_with('Z') && created.len() == 24, "ISO-8601 with milliseconds: {created}");

    let population = s
        .api(
            Method::POST,
            &format!("/environments/{ENV}/populations"),
            Some(token),
            Some(json!({"name": format!("Device-Users-{tag}"), "description": "Population for device users"})),
        )
        .await;
    assert_eq!(population.status, 201, "{population:?}");
    assert_eq!((population.json["default"].as_bool(), population.json["userCount"].as_u64()), (Some(false), Some(0)));
    let population_id = population.str("id");

    let user = s
        .api(
            Method::POST,
            &format!("/environments/{ENV}/users"),
            Some(token),
            Some(json!({
                "email": format!("device.user.{tag}@example.com"),
                "name": {"given": "Device", "family": "User"},
                "population": {"id": population_id},
                "username": format!("deviceuser-{tag}")
            })),
        )
        .await;
    assert_eq!(user.status, 201, "{user:?}");
    assert_eq!(user.json["population"]["id"], population_id.as_str());
    assert_eq!(
        (user.json["enabled"].as_bool(), user.json["lifecycle"]["status"].as_str()),
        (Some(true), Some("ACCOUNT_OK"))
    );
    let user_id = user.str("id");

    let password = s
        .api_as(
            Method::PUT,
            &format!("/environments/{ENV}/users/{user_id}/password"),
            Some(token),
            Some((
                "application/vnd.pingidentity.password.set+json",
                json!({"value": "Device-Pass1", "forceChange": false}),
            )),
        )
        .await;
    assert_eq!(password.status, 200, "{password:?}");
    assert_eq!(password.json["status"], "OK");
    assert_eq!(password.json["user"]["id"], user_id.as_str());
    assert!(password.json["lastChangedAt"].is_string());
    (app_id, path_id, user_id)
}

/// Steps 5-11 for the user `deviceuser-{tag}`; returns the access token's claims.
pub async fn device_flow(s: &TestServer, app_id: &str, path_id: &str, tag: &str) -> serde_json::Value {
    let authorization = s.device_authorization(Dialect::PingOne, Auth::Public(app_id), "openid").await;
    assert_eq!(authorization.status, 200, "{authorization:?}");
    assert_eq!(authorization.str("verification_uri"), s.url(&format!("/{ENV}/device/{path_id}")));
    let flow = s.start_flow(Some(path_id)).await;
    assert_eq!(s.get_flow(&flow).await.json["status"], "USERNAME_PASSWORD_REQUIRED");
    let credentials = json!({"username": format!("deviceuser-{tag}"), "password": "Device-Pass1"});
    let login = s.flow_action(&flow, "usernamePassword.check", credentials).await;
    assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
    let code = json!({"userCode": authorization.str("user_code")});
    let verify = s.flow_action(&flow, "deviceAuthGrant.userCode.verify", code).await;
    assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
    let consent = s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");
    s.advance_s(5);
    let tokens = s.poll(Dialect::PingOne, Auth::Public(app_id), &authorization.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    assert!(tokens.json["refresh_token"].is_string(), "REFRESH_TOKEN was granted");
    let jwks = s.http.get(s.jwks_url(Dialect::PingOne)).send().await.unwrap().json().await.unwrap();
    verify_jwt(&tokens.str("access_token"), &jwks, &s.issuer(Dialect::PingOne), &s.issuer(Dialect::PingOne)).1
}

async fn seed_004_runs_end_to_end(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let token = s.admin_token().await;
    let (app_id, path_id, user_id) = configure(&s, &token, "e2e").await;
    let claims = device_flow(&s, &app_id, &path_id, "e2e").await;
    assert_eq!(claims["sub"], user_id.as_str(), "the new user's id");
    assert_eq!(claims["client_id"], app_id.as_str());
    s.stop().await;
}

#[tokio::test]
async fn seed_004_runs_end_to_end_in_memory() {
    seed_004_runs_end_to_end(StoreKind::Memory).await;
}

#[tokio::test]
async fn seed_004_runs_end_to_end_on_dynamodb() {
    seed_004_runs_end_to_end(StoreKind::DynamoDb).await;
}

/// Every application the server starts with is readable through the API, and writing back what
/// was read changes nothing a client sees: the demo apps keep their secrets and keep working.
async fn known_applications_round_trip(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let token = s.admin_token().await;
    let list = s.api(Method::GET, &format!("/environments/{ENV}/applications"), Some(&token), None).await;
    assert_eq!(list.status, 200, "{list:?}");
    let apps = list.json["_embedded"]["applications"].as_array().unwrap().clone();
    assert_eq!(list.json["count"].as_u64(), Some(apps.len() as u64));
    for id in [demo::DEVICE_APP_ID, demo::WEB_APP_ID, demo::ADMIN_APP_ID, POST_APP_ID, SPA_APP_ID, WORKER_APP_ID] {
        assert!(apps.iter().any(|a| a["id"] == id), "{id} listed");
    }
    for app in &apps {
        let id = app["id"].as_str().unwrap();
        let path = format!("/environments/{ENV}/applications/{id}");
        let read = s.api(Method::GET, &path, Some(&token), None).await;
        assert_eq!(read.json, *app, "the list shows each app as GET does");
        let written = s.api(Method::PUT, &path, Some(&token), Some(read.json.clone())).await;
        assert_eq!(written.status, 200, "{id}: {written:?}");
        let mut before = read.json.clone();
        let mut after = written.json.clone();
        for body in [&mut before, &mut after] {
            body.as_object_mut().unwrap().remove("updatedAt");
        }
        assert_eq!(before, after, "{id}: a PUT of what GET shows changes nothing");
    }
    // Still working: the web app's secret, the device app's flow, the admin's own token.
    let web = s.device_authorization(Dialect::PingOne, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), "openid").await;
    assert_eq!(web.status, 200, "{web:?}");
    let device = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    s.approve(&device.str("user_code"), true).await;
    s.advance_s(5);
    assert_eq!(s.poll(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), &device.str("device_code")).await.status, 200);
    let again = s.admin_token().await;
    assert_eq!(s.api(Method::GET, &format!("/environments/{ENV}"), Some(&again), None).await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn known_applications_round_trip_in_memory() {
    known_applications_round_trip(StoreKind::Memory).await;
}

#[tokio::test]
async fn known_applications_round_trip_on_dynamodb() {
    known_applications_round_trip(StoreKind::DynamoDb).await;
}

/// `forceChange: true` through the management API: the user's next sign-on is PingOne's
/// `MUST_CHANGE_PASSWORD`, and `password.reset` lets the device flow go on.
async fn force_change_through_the_api(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let token = s.admin_token().await;
    let (app_id, path_id, user_id) = configure(&s, &token, "force").await;
    let path = format!("/environments/{ENV}/users/{user_id}/password");
    let media = "application/vnd.pingidentity.password.set+json";
    let set = s
        .api_as(Method::PUT, &path, Some(&token), Some((media, json!({"value": "Device-Pass1", "forceChange": true}))))
        .await;
    assert_eq!((set.status, set.json["status"].as_str()), (200, Some("MUST_CHANGE_PASSWORD")), "{set:?}");
    let state = s.api(Method::GET, &path, Some(&token), None).await;
    assert_eq!(state.json["status"], "MUST_CHANGE_PASSWORD");

    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(&app_id), "openid").await;
    let flow = s.start_flow(Some(&path_id)).await;
    let credentials = json!({"username": "deviceuser-force", "password": "Device-Pass1"});
    let login = s.flow_action(&flow, "usernamePassword.check", credentials).await;
    assert_eq!(login.json["status"], "MUST_CHANGE_PASSWORD", "{login:?}");
    assert!(login.json["_links"]["password.reset"]["href"].is_string(), "{login:?}");
    let change = json!({"currentPassword": "Device-Pass1", "newPassword": "Device-Pass2"});
    let changed = s.flow_action(&flow, "password.reset", change).await;
    assert_eq!(changed.json["status"], "DAG_USER_CODE_REQUIRED", "{changed:?}");
    let state = s.api(Method::GET, &path, Some(&token), None).await;
    assert_eq!(state.json["status"], "OK", "changed: {state:?}");
    let verify =
        s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
    s.stop().await;
}

#[tokio::test]
async fn force_change_through_the_api_in_memory() {
    force_change_through_the_api(StoreKind::Memory).await;
}

#[tokio::test]
async fn force_change_through_the_api_on_dynamodb() {
    force_change_through_the_api(StoreKind::DynamoDb).await;
}

/// Disabling a user revokes the tokens of every grant issued to it, also of a code flow without
/// a consent step (its family is listed on a consent record without scopes).
async fn a_disabled_user_loses_its_code_flow_tokens(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let token = s.admin_token().await;
    let web = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let code = s.code_for(Dialect::PingOne, WEB_APP_ID, "openid offline_access").await;
    let tokens = s.redeem(Dialect::PingOne, web, &code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let refresh = tokens.str("refresh_token");
    let enabled = format!("/environments/{ENV}/users/{}/enabled", demo::USER_ID);
    let off = s.api(Method::PUT, &enabled, Some(&token), Some(json!({"enabled": false}))).await;
    assert_eq!((off.status, off.json["enabled"].as_bool()), (200, Some(false)), "{off:?}");
    let url = s.token_url(Dialect::PingOne);
    let refreshed = s.post_form(&url, web, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!((refreshed.status, refreshed.json["error"].as_str()), (400, Some("invalid_grant")), "{refreshed:?}");
    let introspect = s.url(&format!("/{ENV}/as/introspect"));
    let access = s.post_form(&introspect, web, &[("token", &tokens.str("access_token"))]).await;
    assert_eq!(access.json["active"], false, "the access token too: {access:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_disabled_user_loses_its_code_flow_tokens_in_memory() {
    a_disabled_user_loses_its_code_flow_tokens(StoreKind::Memory).await;
}

#[tokio::test]
async fn a_disabled_user_loses_its_code_flow_tokens_on_dynamodb() {
    a_disabled_user_loses_its_code_flow_tokens(StoreKind::DynamoDb).await;
}
