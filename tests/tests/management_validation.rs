//! What the management API refuses in a request (PING-MGMT §2, §5-§8), over HTTP on both
//! stores: every property the application, population, user, password, role-assignment, secret
//! and environment handlers check, failing alone, is 400 `INVALID_DATA` with exactly one detail
//! whose `target` is that property (a weak password: one detail per rule it breaks); malformed
//! JSON is 400 `INVALID_REQUEST`, another media type 415, an unknown id 404. Never a 5xx.

use blackbox::admin::*;
use blackbox::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::routes::{Verb, ROUTES};

/// `base` with the properties of `patch` set (a `null` removes one).
fn with(base: &Value, patch: &Value) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            out.as_object_mut().unwrap().remove(k);
        } else {
            out[k] = v.clone();
        }
    }
    out
}

/// 400 `INVALID_DATA` with one detail, on `target` (and of `code` when given).
fn assert_one_detail(answer: &Answer, target: &str, code: Option<&str>, what: &str) {
    assert!(answer.status < 500, "{what}: {answer:?}");
    assert_eq!(answer.status, 400, "{what}: {answer:?}");
    let details = TestServer::assert_p1_error(answer, 400, "INVALID_DATA");
    assert_eq!(details.len(), 1, "{what}: one detail: {answer:?}");
    assert_eq!(details[0]["target"], target, "{what}: {answer:?}");
    assert!(details[0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {answer:?}");
    if let Some(code) = code {
        assert_eq!(details[0]["code"], code, "{what}: {answer:?}");
    }
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn device_app() -> Value {
    json!({
        "name": "Validation app", "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE", "REFRESH_TOKEN"], "tokenEndpointAuthMethod": "NONE"
    })
}

/// (target, detail code, change to the device app) — each breaks exactly one property.
fn application_cases() -> Vec<(&'static str, Option<&'static str>, Value)> {
    let r = Some("REQUIRED_VALUE");
    let v = Some("INVALID_VALUE");
    vec![
        ("name", r, json!({"name": null})),
        ("name", Some("EMPTY_VALUE"), json!({"name": "  "})),
        ("name", v, json!({"name": long(257)})),
        ("name", v, json!({"name": 5})),
        ("description", v, json!({"description": long(1025)})),
        ("enabled", v, json!({"enabled": "yes"})),
        ("type", r, json!({"type": null})),
        ("type", v, json!({"type": "NOPE"})),
        ("type", v, json!({"type": "SERVICE"})),
        ("protocol", r, json!({"protocol": null})),
        ("protocol", v, json!({"protocol": "SAML"})),
        ("grantTypes", r, json!({"grantTypes": null})),
        ("grantTypes", r, json!({"grantTypes": []})),
        ("grantTypes", v, json!({"grantTypes": ["IMPLICIT"]})),
        ("grantTypes", v, json!({"grantTypes": "DEVICE_CODE"})),
        ("responseTypes", v, json!({"responseTypes": ["TOKEN"]})),
        ("tokenEndpointAuthMethod", r, json!({"tokenEndpointAuthMethod": null})),
        ("tokenEndpointAuthMethod", v, json!({"tokenEndpointAuthMethod": "SECRET"})),
        ("tokenEndpointAuthMethod", v, json!({"grantTypes": ["CLIENT_CREDENTIALS"]})),
        ("redirectUris", r, json!({"grantTypes": ["AUTHORIZATION_CODE"]})),
        ("redirectUris", r, json!({"grantTypes": ["AUTHORIZATION_CODE"], "redirectUris": []})),
        ("redirectUris", v, json!({"redirectUris": ["not a uri"]})),
        ("redirectUris", v, json!({"redirectUris": ["/relative/cb"]})),
        ("redirectUris", v, json!({"redirectUris": ["https://app.example/cb#fragment"]})),
        ("redirectUris", v, json!({"redirectUris": [format!("https://app.example/{}", long(2040))]})),
        ("redirectUris", v, json!({"redirectUris": "https://app.example/cb"})),
        ("postLogoutRedirectUris", v, json!({"postLogoutRedirectUris": ["relative/out"]})),
        ("pkceEnforcement", v, json!({"pkceEnforcement": "ALWAYS"})),
        ("deviceTimeout", v, json!({"deviceTimeout": 0})),
        ("deviceTimeout", v, json!({"deviceTimeout": 3601})),
        ("deviceTimeout", v, json!({"deviceTimeout": "600"})),
        ("deviceTimeout", v, json!({"deviceTimeout": 1.5})),
        ("devicePollingInterval", v, json!({"devicePollingInterval": 0})),
        ("devicePollingInterval", v, json!({"devicePollingInterval": 61})),
        ("devicePathId", v, json!({"devicePathId": "has space"})),
        ("devicePathId", v, json!({"devicePathId": "qr"})),
        ("devicePathId", v, json!({"devicePathId": "über"})),
        ("devicePathId", v, json!({"devicePathId": long(51)})),
        ("refreshTokenDuration", v, json!({"refreshTokenDuration": 59})),
        ("refreshTokenDuration", v, json!({"refreshTokenDuration": 1000, "refreshTokenRollingDuration": 500})),
        ("refreshTokenRollingDuration", v, json!({"refreshTokenRollingDuration": 59})),
        ("refreshTokenRollingDuration", v, json!({"refreshTokenRollingDuration": 2_147_483_648_i64})),
        ("jwks", v, json!({"jwks": "not json"})),
        ("jwks", v, json!({"jwks": "{\"nokeys\": 1}"})),
        ("jwks", v, json!({"jwks": {"keys": []}})),
        ("jwks", r, json!({"tokenEndpointAuthMethod": "PRIVATE_KEY_JWT"})),
        ("jwksUrl", v, json!({"jwksUrl": "http://keys.example/jwks"})),
        ("jwksUrl", v, json!({"jwksUrl": "keys.example/jwks"})),
        ("allowedScopes", v, json!({"allowedScopes": ["two words"]})),
        ("allowedScopes", v, json!({"allowedScopes": ["quo\"te"]})),
        ("userCodeLength", v, json!({"userCodeLength": 5})),
        ("userCodeLength", v, json!({"userCodeLength": 13})),
        ("bypassActivationCodeConfirmation", v, json!({"bypassActivationCodeConfirmation": "x"})),
        ("bypassApprovalPage", v, json!({"bypassApprovalPage": 1})),
        ("requireConsent", v, json!({"requireConsent": "no"})),
        ("accessTokenDuration", v, json!({"accessTokenDuration": 59})),
        ("accessTokenDuration", v, json!({"accessTokenDuration": 86_401})),
        ("tokenSigningAlgorithm", v, json!({"tokenSigningAlgorithm": "HS256"})),
    ]
}

async fn application_properties(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let apps = env_path(ENV, "/applications");
    let created = s.create_app(&admin, ENV, device_app()).await;
    let item = env_path(ENV, &format!("/applications/{}", created["id"].as_str().unwrap()));
    s.advance_s(1);
    for (target, code, patch) in application_cases() {
        let body = with(&device_app(), &patch);
        let posted = s.api(Method::POST, &apps, Some(&admin), Some(body.clone())).await;
        assert_one_detail(&posted, target, code, &format!("POST {patch}"));
        let put = s.api(Method::PUT, &item, Some(&admin), Some(body)).await;
        assert_one_detail(&put, target, code, &format!("PUT {patch}"));
    }
    // The failures of one request come together.
    let two = s
        .api(
            Method::POST,
            &apps,
            Some(&admin),
            Some(with(&device_app(), &json!({"deviceTimeout": 0, "devicePollingInterval": 61}))),
        )
        .await;
    let details = TestServer::assert_p1_error(&two, 400, "INVALID_DATA");
    let targets: Vec<_> = details.iter().map(|d| d["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["deviceTimeout", "devicePollingInterval"], "{two:?}");
    assert_eq!(details[0]["innerError"], json!({"rangeMinimumValue": 1, "rangeMaximumValue": 3600}));
    // Nothing was written.
    let listed = s.api(Method::GET, &apps, Some(&admin), None).await;
    let stored = listed.json["_embedded"]["applications"].as_array().unwrap();
    assert_eq!(stored.iter().filter(|a| a["name"] == "Validation app").count(), 1, "only the valid create stored one");
    let unchanged = s.api(Method::GET, &item, Some(&admin), None).await;
    assert_eq!(unchanged.json, created, "no refused PUT changed the application");

    // The type stays what it was created as.
    for other in ["NATIVE_APP", "WEB_APP", "WORKER"] {
        let changed = s.api(Method::PUT, &item, Some(&admin), Some(with(&device_app(), &json!({"type": other})))).await;
        assert_one_detail(&changed, "type", Some("INVALID_VALUE"), other);
    }
    let worker = s.create_worker(&admin, ENV, "Typed worker").await;
    let worker_item = env_path(ENV, &format!("/applications/{}", worker.id));
    let body = with(&worker_body("Typed worker", true), &json!({"type": "CUSTOM_APP"}));
    assert_one_detail(
        &s.api(Method::PUT, &worker_item, Some(&admin), Some(body)).await,
        "type",
        None,
        "worker to CUSTOM_APP",
    );
    s.stop().await;
}

async fn population_user_and_password_properties(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let v = Some("INVALID_VALUE");
    let r = Some("REQUIRED_VALUE");

    let populations = env_path(ENV, "/populations");
    let population = json!({"name": "Validation population"});
    for (target, code, patch) in [
        ("name", r, json!({"name": null})),
        ("name", Some("EMPTY_VALUE"), json!({"name": ""})),
        ("name", v, json!({"name": long(257)})),
        ("name", v, json!({"name": ["a"]})),
        ("description", v, json!({"description": long(1025)})),
        ("default", v, json!({"default": "yes"})),
    ] {
        let answer = s.api(Method::POST, &populations, Some(&admin), Some(with(&population, &patch))).await;
        assert_one_detail(&answer, target, code, &format!("population {patch}"));
    }
    let default = env_path(ENV, &format!("/populations/{}", demo::POPULATION_ID));
    let undefault =
        s.api(Method::PUT, &default, Some(&admin), Some(json!({"name": "Default", "default": false}))).await;
    assert_one_detail(&undefault, "default", Some("CONSTRAINT_VIOLATION"), "the default population unmarked");

    let users = env_path(ENV, "/users");
    let user = json!({"username": "validation-user", "email": "validation@example.com"});
    let unknown_population = uuid::Uuid::new_v4().to_string();
    for (target, code, patch) in [
        ("username", r, json!({"username": null})),
        ("username", Some("EMPTY_VALUE"), json!({"username": "   "})),
        ("username", v, json!({"username": long(129)})),
        ("username", v, json!({"username": "bell\u{7}name"})),
        ("username", v, json!({"username": 42})),
        ("email", r, json!({"email": null})),
        ("email", v, json!({"email": "not-an-address"})),
        ("email", v, json!({"email": "name@localhost"})),
        ("email", v, json!({"email": "two words@example.com"})),
        ("email", v, json!({"email": format!("{}@example.com", long(250))})),
        ("name.given", v, json!({"name": {"given": long(257)}})),
        ("name.family", v, json!({"name": {"family": 7}})),
        ("population.id", v, json!({"population": {"id": unknown_population}})),
        ("population.id", v, json!({"population": "default"})),
    ] {
        let answer = s.api(Method::POST, &users, Some(&admin), Some(with(&user, &patch))).await;
        assert_one_detail(&answer, target, code, &format!("user {patch}"));
    }
    let created = s.create_user(&admin, user.clone()).await;
    assert_eq!(created.status, 201, "{created:?}");
    let item = env_path(ENV, &format!("/users/{}", created.str("id")));
    for (target, patch) in [
        ("username", json!({"username": ""})),
        ("username", json!({"username": 7})),
        ("email", json!({"email": ""})),
        ("email", json!({"email": "bad"})),
        ("name.given", json!({"name": {"given": long(300)}})),
    ] {
        let answer = s.api(Method::PATCH, &item, Some(&admin), Some(patch.clone())).await;
        assert_one_detail(&answer, target, None, &format!("PATCH {patch}"));
    }
    let kept = s.api(Method::GET, &item, Some(&admin), None).await;
    assert_eq!(
        (kept.json["username"].as_str(), kept.json["email"].as_str()),
        (Some("validation-user"), Some("validation@example.com")),
        "no refused PATCH changed the user"
    );
    let put = s.api(Method::PUT, &item, Some(&admin), Some(json!({"username": "validation-user"}))).await;
    assert_one_detail(&put, "email", r, "PUT without the email");
    let enabled = format!("{item}/enabled");
    assert_one_detail(
        &s.api(Method::PUT, &enabled, Some(&admin), Some(json!({}))).await,
        "enabled",
        r,
        "enabled missing",
    );
    assert_one_detail(
        &s.api(Method::PUT, &enabled, Some(&admin), Some(json!({"enabled": "no"}))).await,
        "enabled",
        v,
        "enabled no",
    );

    // Passwords: a weak one breaks each of its rules, all on the value.
    let password = format!("{item}/password");
    let set = |body: Value| s.api_as(Method::PUT, &password, Some(&admin), Some((PASSWORD_SET, body)));
    for (target, code, body) in [
        ("value", r, json!({"forceChange": false})),
        ("value", Some("EMPTY_VALUE"), json!({"value": ""})),
        ("value", v, json!({"value": format!("Aa1{}", long(253))})),
        ("value", v, json!({"value": "{SSHA512}c29tZWhhc2g="})),
        ("forceChange", v, json!({"value": "Valid-Pass1", "forceChange": "yes"})),
        ("bypassPolicy", v, json!({"value": "Valid-Pass1", "bypassPolicy": 1})),
    ] {
        assert_one_detail(&set(body.clone()).await, target, code, &format!("password {body}"));
    }
    for (weak, rules) in [
        ("Ab1", &["characters long"][..]),
        ("abcdefgh", &["upper-case", "digit"]),
        ("ABCDEFGH1", &["lower-case"]),
        ("abcdefg", &["characters long", "upper-case", "digit"]),
    ] {
        let answer = set(json!({"value": weak})).await;
        let details = TestServer::assert_p1_error(&answer, 400, "INVALID_DATA");
        assert_eq!(details.len(), rules.len(), "{weak:?}: {answer:?}");
        for (detail, rule) in details.iter().zip(rules) {
            assert_eq!((detail["code"].as_str(), detail["target"].as_str()), (Some("INVALID_VALUE"), Some("value")));
            assert!(detail["message"].as_str().unwrap().contains(rule), "{weak:?}: {rule}: {detail}");
        }
        let imported =
            s.create_user(&admin, with(&user, &json!({"username": "weak-import", "password": {"value": weak}}))).await;
        let details = TestServer::assert_p1_error(&imported, 400, "INVALID_DATA");
        assert_eq!(details.len(), rules.len(), "{weak:?}: {imported:?}");
        assert!(details.iter().all(|d| d["target"] == "password.value"), "{imported:?}");
    }
    let state = s.api(Method::GET, &password, Some(&admin), None).await;
    assert_eq!(state.json["status"], "NO_PASSWORD", "no weak password was stored: {state:?}");
    let bypassed = set(json!({"value": "weakpass", "bypassPolicy": true})).await;
    assert_eq!((bypassed.status, bypassed.json["status"].as_str()), (200, Some("OK")), "{bypassed:?}");

    // The users list's limit.
    for limit in ["0", "1001", "-1", "ten"] {
        let answer = s.api(Method::GET, &format!("{users}?limit={limit}"), Some(&admin), None).await;
        assert_one_detail(&answer, "limit", Some("INVALID_VALUE"), &format!("limit={limit}"));
    }
    s.stop().await;
}

async fn assignment_secret_and_environment_properties(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let roles = s.role_ids(&admin).await;
    let worker = s.create_worker(&admin, ENV, "Assignee").await;
    let assignments = env_path(ENV, &format!("/applications/{}/roleAssignments", worker.id));
    let ida = &roles[IDENTITY_DATA_ADMIN];
    let scope = json!({"id": ENV, "type": "ENVIRONMENT"});
    for (target, body) in [
        ("role.id", json!({"scope": scope})),
        ("role.id", json!({"role": {"id": uuid::Uuid::new_v4().to_string()}, "scope": scope})),
        ("role.id", json!({"role": "Identity Data Admin", "scope": scope})),
        ("scope.type", json!({"role": {"id": ida}, "scope": {"id": ENV, "type": "POPULATION"}})),
        ("scope.type", json!({"role": {"id": ida}, "scope": {"id": ENV}})),
        ("scope.id", json!({"role": {"id": ida}, "scope": {"type": "ENVIRONMENT"}})),
    ] {
        let answer = s.api(Method::POST, &assignments, Some(&admin), Some(body.clone())).await;
        assert_one_detail(&answer, target, None, &format!("assignment {body}"));
    }

    let secret = env_path(ENV, &format!("/applications/{}/secret", worker.id));
    let at = |ms: i64| shared::management::hal::timestamp(shared::clock::Clock::now_ms(&*s.clock) + ms);
    for expires in
        [json!("tomorrow"), json!(at(30_000)), json!(at(31 * 24 * 3600 * 1000)), json!(at(-60_000)), json!(5)]
    {
        let answer =
            s.api(Method::POST, &secret, Some(&admin), Some(json!({"previous": {"expiresAt": expires}}))).await;
        assert_one_detail(&answer, "previous.expiresAt", Some("INVALID_VALUE"), &format!("expiresAt {expires}"));
    }
    let answer = s.api(Method::POST, &secret, Some(&admin), Some(json!({"previous": "soon"}))).await;
    assert_one_detail(&answer, "previous.expiresAt", None, "previous not an object");
    assert_eq!(s.app_secret(&admin, ENV, &worker.id).await, worker.secret, "no refused rotation changed the secret");

    let environment = json!({"name": "Validation env", "type": "SANDBOX", "region": "NA"});
    for (target, patch) in [
        ("name", json!({"name": null})),
        ("name", json!({"name": long(257)})),
        ("description", json!({"description": long(1025)})),
        ("type", json!({"type": null})),
        ("type", json!({"type": "TEST"})),
        ("region", json!({"region": null})),
        ("region", json!({"region": "US"})),
    ] {
        let answer = s.api(Method::POST, "/environments", Some(&admin), Some(with(&environment, &patch))).await;
        assert_one_detail(&answer, target, None, &format!("environment {patch}"));
    }
    s.stop().await;
}

/// Every management route taking a body: its path below `/v1` with ids of `ids`, and its media type.
fn body_routes(ids: &[(&str, String)]) -> Vec<(Method, String, &'static str)> {
    ROUTES
        .iter()
        .filter(|r| r.endpoint.management_family().is_some() && matches!(r.verb, Verb::Post | Verb::Put | Verb::Patch))
        .map(|r| {
            let mut path = r.path.strip_prefix("/v1").unwrap().replace("{envId}", ENV);
            for (param, id) in ids {
                path = path.replace(param, id);
            }
            let media = if r.path.ends_with("/password") { PASSWORD_SET } else { "application/json" };
            (Method::from_bytes(r.verb.as_str().as_bytes()).unwrap(), path, media)
        })
        .collect()
}

async fn malformed_bodies_media_types_and_unknown_ids(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let worker = s.create_worker(&admin, ENV, "Body target").await;
    let bearer = format!("Bearer {admin}");
    let real = [
        ("{appId}", worker.id.clone()),
        ("{populationId}", demo::POPULATION_ID.to_owned()),
        ("{userId}", demo::USER_ID.to_owned()),
    ];
    for (method, path, media) in body_routes(&real) {
        let what = format!("{method} {path}");
        for broken in ["{\"name\": ", "not json", "[1, 2]", "\"text\"", "null"] {
            let answer = s.api_raw(method.clone(), &path, Some(&bearer), Some((media, broken))).await;
            TestServer::assert_p1_error(&answer, 400, "INVALID_REQUEST");
            assert!(answer.status < 500, "{what} {broken}");
        }
        for other in ["text/plain", "application/x-www-form-urlencoded", "application/vnd.pingidentity.nothing+json"] {
            let other = if media == PASSWORD_SET && other == "text/plain" { "application/json" } else { other };
            let answer = s.api_raw(method.clone(), &path, Some(&bearer), Some((other, "{}"))).await;
            assert_eq!(answer.status, 415, "{what} as {other}: {answer:?}");
            TestServer::assert_p1_error(&answer, 415, "INVALID_REQUEST");
        }
    }

    // Unknown ids (a UUID, and not even one) answer 404 on every item route.
    let unknown = uuid::Uuid::new_v4().to_string();
    for missing in [unknown.as_str(), "nope"] {
        let ids =
            [("{appId}", missing.to_owned()), ("{populationId}", missing.to_owned()), ("{userId}", missing.to_owned())];
        for route in ROUTES.iter().filter(|r| r.endpoint.management_family().is_some() && r.path.contains("}/")) {
            let has_id =
                ["{appId}", "{populationId}", "{userId}", "{roleAssignmentId}"].iter().any(|p| route.path.contains(p));
            if !has_id {
                continue;
            }
            let mut path = route.path.strip_prefix("/v1").unwrap().replace("{envId}", ENV);
            for (param, id) in &ids {
                path = path.replace(param, id);
            }
            // An unknown assignment of a real worker, too.
            if path.contains("{roleAssignmentId}") {
                let of_real = path.replace(missing, &worker.id).replace("{roleAssignmentId}", missing);
                let answer = s
                    .api(Method::from_bytes(route.verb.as_str().as_bytes()).unwrap(), &of_real, Some(&admin), None)
                    .await;
                TestServer::assert_p1_error(&answer, 404, "NOT_FOUND");
                path = path.replace("{roleAssignmentId}", missing);
            }
            let media = if route.path.ends_with("/password") { PASSWORD_SET } else { "application/json" };
            let body = match route.verb {
                Verb::Get | Verb::Delete => None,
                _ => Some((media, "{}")),
            };
            let answer = s
                .api_raw(Method::from_bytes(route.verb.as_str().as_bytes()).unwrap(), &path, Some(&bearer), body)
                .await;
            let details = TestServer::assert_p1_error(&answer, 404, "NOT_FOUND");
            assert!(
                details[0]["message"].as_str().unwrap().contains(missing),
                "{} {path}: {answer:?}",
                route.verb.as_str()
            );
        }
    }
    let environment = s.api(Method::GET, &format!("/environments/{unknown}"), Some(&admin), None).await;
    TestServer::assert_p1_error(&environment, 404, "NOT_FOUND");
    // Where the actor holds no role, an unknown environment is 403, as in PingOne.
    let users = s.api(Method::GET, &env_path(&unknown, "/users"), Some(&admin), None).await;
    TestServer::assert_p1_error(&users, 403, "ACCESS_FAILED");
    s.stop().await;
}

on_both_stores!(
    application_properties,
    population_user_and_password_properties,
    assignment_secret_and_environment_properties,
    malformed_bodies_media_types_and_unknown_ids,
);
