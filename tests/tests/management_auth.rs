//! Who may call the PingOne management API (PING-MGMT §2.3, §3), over HTTP on both stores: every
//! `/v1` route of `ROUTES` refuses a missing, malformed, tampered, expired or non-worker token
//! with 401, and a worker without the role the route needs (or with roles over another
//! environment only) with 403; role changes, disabling and deleting a worker act at once; the
//! "Can assign" rules and the secret escalation guard hold.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use blackbox::admin::*;
use blackbox::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::routes::{Route, Verb, ROUTES};

const ORG_ID: &str = shared::model::ORGANIZATION_ID;

/// The management routes: a route added to `ROUTES` is checked here without a change.
fn management_routes() -> Vec<&'static Route> {
    let routes: Vec<_> = ROUTES.iter().filter(|r| r.endpoint.management_family().is_some()).collect();
    assert!(routes.len() >= 30, "the management API has its routes: {}", routes.len());
    routes
}

fn method(verb: Verb) -> Method {
    Method::from_bytes(verb.as_str().as_bytes()).unwrap()
}

/// Real ids for the path parameters.
struct Ids {
    app: String,
    assignment: String,
}

/// A route's path below `/v1` with its parameters filled.
fn fill(route: &Route, ids: &Ids) -> String {
    let path = route
        .path
        .strip_prefix("/v1")
        .unwrap()
        .replace("{envId}", ENV)
        .replace("{appId}", &ids.app)
        .replace("{roleAssignmentId}", &ids.assignment)
        .replace("{populationId}", demo::POPULATION_ID)
        .replace("{userId}", demo::USER_ID);
    assert!(!path.contains('{'), "a new path parameter in {}: give it a real id in `fill`", route.path);
    path
}

/// A valid body for the route (so that only the actor's rights decide the answer).
fn body(route: &Route, roles: &HashMap<String, String>) -> Option<(&'static str, Value)> {
    let path = route.path;
    let json_body = |v: Value| Some(("application/json", v));
    match route.verb {
        Verb::Get | Verb::Delete => None,
        _ if path == "/v1/environments" => json_body(json!({"name": "Matrix", "type": "SANDBOX", "region": "NA"})),
        _ if path.ends_with("/applications") => json_body(json!({
            "name": "Matrix app", "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
            "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "NONE"
        })),
        _ if path.ends_with("/{appId}") => json_body(worker_body("Target", true)),
        _ if path.ends_with("/secret") => None,
        _ if path.ends_with("/roleAssignments") => json_body(json!({
            "role": {"id": roles[IDENTITY_DATA_ADMIN]}, "scope": {"id": ENV, "type": "ENVIRONMENT"}
        })),
        _ if path.ends_with("/populations") => json_body(json!({"name": "Matrix"})),
        _ if path.ends_with("/{populationId}") => json_body(json!({"name": "Default", "default": true})),
        _ if path.ends_with("/users") => json_body(json!({"username": "matrix", "email": "matrix@example.com"})),
        _ if path.ends_with("/{userId}") => json_body(json!({"username": "demo", "email": "demo@example.com"})),
        _ if path.ends_with("/enabled") => json_body(json!({"enabled": true})),
        _ if path.ends_with("/password") => Some((PASSWORD_SET, json!({"value": "Matrix-Pass1"}))),
        _ => panic!("{} {path} is new: give it a valid body in `body`", route.verb.as_str()),
    }
}

/// The workers of the matrix: a label and the roles it holds.
const WORKERS: [&str; 6] = ["org", "env", "ida", "cad", "none", "elsewhere"];

/// Which workers of `WORKERS` a route admits (PING-MGMT §3.3).
/// `None`: the environments list, which admits every worker and shows what each may read.
fn admitted(route: &Route) -> Option<&'static [&'static str]> {
    let (verb, path) = (route.verb, route.path);
    let apps = "/v1/environments/{envId}/applications";
    let pops = "/v1/environments/{envId}/populations";
    let users = "/v1/environments/{envId}/users";
    Some(match (verb, path) {
        (Verb::Get, "/v1/environments") => return None,
        (Verb::Post, "/v1/environments") => &["org"],
        (Verb::Get, "/v1/environments/{envId}") => &["org", "env", "ida", "cad"],
        (Verb::Get, "/v1/roles") => &WORKERS,
        // The target worker holds Identity Data Admin: a developer could not have given it that,
        // so the escalation guard keeps its secret from developers.
        (_, p) if p.starts_with(apps) && p.ends_with("/secret") => &["env"],
        // Assigning Identity Data Admin (PingOne: Identity Data Admin may assign itself);
        // removing an assignment needs the right to make it.
        (Verb::Post | Verb::Delete, p) if p.starts_with(apps) && p.contains("/roleAssignments") => &["env", "ida"],
        (Verb::Get, p) if p.starts_with(apps) && p.contains("/roleAssignments") => &["env", "cad", "ida"],
        (_, p) if p.starts_with(apps) => &["env", "cad"],
        (Verb::Get, p) if p.starts_with(pops) => &["env", "ida"],
        (_, p) if p.starts_with(pops) => &["env"],
        (_, p) if p.starts_with(users) => &["env", "ida"],
        _ => panic!("{} {path} is new: say in `admitted` which roles may call it", verb.as_str()),
    })
}

fn assert_unauthorized(answer: &Answer, token_presented: bool, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {answer:?}");
    let details = TestServer::assert_p1_error(answer, 401, "ACCESS_FAILED");
    assert_eq!(details[0]["code"], "INVALID_TOKEN", "{what}: {answer:?}");
    let challenge = answer.header("www-authenticate").unwrap_or_else(|| panic!("{what}: no challenge: {answer:?}"));
    assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
    assert!(challenge.contains("realm=\"PingOne\""), "{what}: {challenge}");
    assert_eq!(challenge.contains("error=\"invalid_token\""), token_presented, "{what}: {challenge}");
}

fn assert_forbidden(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {answer:?}");
    let details = TestServer::assert_p1_error(answer, 403, "ACCESS_FAILED");
    assert_eq!(details[0]["code"], "INSUFFICIENT_PERMISSIONS", "{what}: {answer:?}");
}

/// A token whose signature no longer matches (one character of it changed).
fn tampered_signature(token: &str) -> String {
    let (head, signature) = token.rsplit_once('.').unwrap();
    let mut chars: Vec<char> = signature.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", chars.into_iter().collect::<String>())
}

/// The same claims with the client id of another worker, under the original signature.
fn tampered_claims(token: &str, client_id: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
    claims["client_id"] = json!(client_id);
    format!("{}.{}.{}", parts[0], B64URL.encode(claims.to_string()), parts[2])
}

/// The claims unsigned (`alg: none`).
fn unsigned(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    format!("{}.{payload}.", B64URL.encode(r#"{"alg":"none","typ":"at+jwt"}"#))
}

async fn call(s: &TestServer, route: &Route, path: &str, auth: Option<&str>, body: Option<(&str, Value)>) -> Answer {
    let body = body.map(|(media, v)| (media, v.to_string()));
    s.api_raw(method(route.verb), path, auth, body.as_ref().map(|(m, b)| (*m, b.as_str()))).await
}

async fn every_route_refuses_the_wrong_actor(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let roles = s.role_ids(&admin).await;
    let other = s
        .api(
            Method::POST,
            "/environments",
            Some(&admin),
            Some(json!({"name": "Elsewhere", "type": "SANDBOX", "region": "EU"})),
        )
        .await;
    assert_eq!(other.status, 201, "{other:?}");
    let other_env = other.str("id");

    // The target of the item routes: a worker holding Identity Data Admin.
    let target = s.worker_with_roles(&admin, "Target", &[(IDENTITY_DATA_ADMIN, "ENVIRONMENT", ENV)]).await;
    let assignments = s
        .api(Method::GET, &env_path(ENV, &format!("/applications/{}/roleAssignments", target.id)), Some(&admin), None)
        .await;
    assert_eq!(assignments.json["count"], 1, "{assignments:?}");
    let ids =
        Ids { app: target.id.clone(), assignment: assignments.json["_embedded"]["roleAssignments"][0].str_of("id") };

    let org = s.seed_organization_admin().await;
    let env_scope = |role| vec![(role, "ENVIRONMENT", ENV)];
    let mut workers: Vec<(&str, Worker)> = vec![("org", org)];
    for (label, held) in [
        ("env", env_scope(ENVIRONMENT_ADMIN)),
        ("ida", env_scope(IDENTITY_DATA_ADMIN)),
        ("cad", env_scope(CLIENT_APPLICATION_DEVELOPER)),
        ("none", vec![]),
        (
            "elsewhere",
            vec![
                (ENVIRONMENT_ADMIN, "ENVIRONMENT", other_env.as_str()),
                (IDENTITY_DATA_ADMIN, "ENVIRONMENT", other_env.as_str()),
                (CLIENT_APPLICATION_DEVELOPER, "ENVIRONMENT", other_env.as_str()),
            ],
        ),
    ] {
        workers.push((label, s.worker_with_roles(&admin, label, &held).await));
    }
    let mut tokens = Vec::new();
    for (label, worker) in &workers {
        tokens.push((*label, s.worker_token(worker.auth()).await));
    }
    assert_eq!(tokens.iter().map(|(l, _)| *l).collect::<Vec<_>>(), WORKERS);
    let non_worker = s.worker_token(Auth::Basic(WORKER_APP_ID, WORKER_APP_SECRET)).await;
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:x", demo::ADMIN_APP_ID)));

    let routes = management_routes();
    for route in &routes {
        let path = fill(route, &ids);
        let what = format!("{} {path}", route.verb.as_str());
        let valid_body = || body(route, &roles);

        // 401 for everything that is not a live worker's token.
        let refused: [(&str, Option<String>); 8] = [
            ("no token", None),
            ("not a bearer token", Some(basic.clone())),
            ("malformed", Some("Bearer not-a-token".into())),
            ("tampered signature", Some(format!("Bearer {}", tampered_signature(&admin)))),
            ("tampered claims", Some(format!("Bearer {}", tampered_claims(&tokens[4].1, demo::ADMIN_APP_ID)))),
            ("unsigned", Some(format!("Bearer {}", unsigned(&admin)))),
            ("another app's token", Some(format!("Bearer {non_worker}"))),
            ("empty bearer", Some("Bearer ".into())),
        ];
        for (case, authorization) in refused {
            let answer = call(&s, route, &path, authorization.as_deref(), valid_body()).await;
            // RFC 6750 §3.1: no error code when no bearer token was presented.
            let bearer = authorization.as_deref().is_some_and(|a| a.starts_with("Bearer"));
            assert_unauthorized(&answer, bearer, &format!("{what}, {case}"));
        }

        // 403 for a worker without the role; 200 for a read by one with it.
        let Some(admits) = admitted(route) else {
            continue;
        };
        for (label, token) in &tokens {
            let bearer = format!("Bearer {token}");
            if !admits.contains(label) {
                let answer = call(&s, route, &path, Some(&bearer), valid_body()).await;
                assert_forbidden(&answer, &format!("{what} by {label}"));
            } else if route.verb == Verb::Get {
                let answer = call(&s, route, &path, Some(&bearer), None).await;
                assert_eq!(answer.status, 200, "{what} by {label}: {answer:?}");
            }
        }
    }

    // Each worker lists the environments it holds a role in.
    for (label, token) in &tokens {
        let listed = s.api(Method::GET, "/environments", Some(token), None).await;
        assert_eq!(listed.status, 200, "{label}: {listed:?}");
        let mut ids: Vec<String> =
            listed.json["_embedded"]["environments"].as_array().unwrap().iter().map(|e| e.str_of("id")).collect();
        ids.sort();
        let mut expected: Vec<String> = match *label {
            "org" => vec![ENV.into(), other_env.clone()],
            "none" => vec![],
            "elsewhere" => vec![other_env.clone()],
            _ => vec![ENV.into()],
        };
        expected.sort();
        assert_eq!(ids, expected, "{label}");
        assert_eq!(listed.json["count"], expected.len(), "{label}");
    }

    // An hour later every token has expired.
    s.advance_s(3601);
    for route in &routes {
        let path = fill(route, &ids);
        for (label, token) in tokens.iter().chain([("admin", admin.clone())].iter()) {
            let answer = call(&s, route, &path, Some(&format!("Bearer {token}")), body(route, &roles)).await;
            assert_unauthorized(&answer, true, &format!("{} {path}, expired token of {label}", route.verb.as_str()));
        }
    }
    s.stop().await;
}

trait StrOf {
    fn str_of(&self, field: &str) -> String;
}

impl StrOf for Value {
    fn str_of(&self, field: &str) -> String {
        self[field].as_str().unwrap_or_else(|| panic!("{field} missing in {self}")).to_owned()
    }
}

/// The assignment ids of a worker, by role id.
async fn assignments(s: &TestServer, token: &str, app_id: &str) -> Vec<(String, String)> {
    let listed =
        s.api(Method::GET, &env_path(ENV, &format!("/applications/{app_id}/roleAssignments")), Some(token), None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    listed.json["_embedded"]["roleAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["role"].str_of("id"), a.str_of("id")))
        .collect()
}

async fn role_and_worker_changes_act_at_once(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let roles = s.role_ids(&admin).await;
    let worker = s.worker_with_roles(&admin, "Lifecycle", &[(IDENTITY_DATA_ADMIN, "ENVIRONMENT", ENV)]).await;
    let token = s.worker_token(worker.auth()).await;
    let users = env_path(ENV, "/users");
    assert_eq!(s.api(Method::GET, &users, Some(&token), None).await.status, 200);

    // Removing the role: the next call is refused.
    let (_, assignment) = assignments(&s, &admin, &worker.id).await.remove(0);
    let removed = s
        .api(
            Method::DELETE,
            &env_path(ENV, &format!("/applications/{}/roleAssignments/{assignment}", worker.id)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{removed:?}");
    assert_forbidden(&s.api(Method::GET, &users, Some(&token), None).await, "after the role was removed");
    let gone = s
        .api(
            Method::GET,
            &env_path(ENV, &format!("/applications/{}/roleAssignments/{assignment}", worker.id)),
            Some(&admin),
            None,
        )
        .await;
    TestServer::assert_p1_error(&gone, 404, "NOT_FOUND");

    // A role given works at once too, with the same token.
    let given = s.assign_role(&admin, &worker.id, &roles[ENVIRONMENT_ADMIN], "ENVIRONMENT", ENV).await;
    assert_eq!(given.status, 201, "{given:?}");
    assert_eq!(given.json["role"]["id"], roles[ENVIRONMENT_ADMIN].as_str());
    assert_eq!(
        (given.json["scope"]["id"].as_str(), given.json["scope"]["type"].as_str()),
        (Some(ENV), Some("ENVIRONMENT"))
    );
    assert_eq!(s.api(Method::GET, &users, Some(&token), None).await.status, 200);

    // Even an Environment Admin worker cannot read its own secret.
    let own =
        s.api(Method::GET, &env_path(ENV, &format!("/applications/{}/secret", worker.id)), Some(&token), None).await;
    assert_forbidden(&own, "its own secret");
    let rotate =
        s.api(Method::POST, &env_path(ENV, &format!("/applications/{}/secret", worker.id)), Some(&token), None).await;
    assert_forbidden(&rotate, "rotating its own secret");

    // Disabled: refused at once, and no new token.
    let item = env_path(ENV, &format!("/applications/{}", worker.id));
    let disabled = s.api(Method::PUT, &item, Some(&admin), Some(worker_body("Lifecycle", false))).await;
    assert_eq!((disabled.status, disabled.json["enabled"].as_bool()), (200, Some(false)), "{disabled:?}");
    assert_eq!(assignments(&s, &admin, &worker.id).await.len(), 1, "a PUT keeps the roles");
    assert_unauthorized(&s.api(Method::GET, &users, Some(&token), None).await, true, "disabled worker");
    let url = s.url(&format!("/{ENV}/as/token"));
    let refused = s.post_form(&url, worker.auth(), &[("grant_type", "client_credentials")]).await;
    assert_eq!((refused.status, refused.json["error"].as_str()), (401, Some("invalid_client")), "{refused:?}");

    // Enabled again, then deleted: refused at once.
    let enabled = s.api(Method::PUT, &item, Some(&admin), Some(worker_body("Lifecycle", true))).await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
    let token = s.worker_token(worker.auth()).await;
    assert_eq!(s.api(Method::GET, &users, Some(&token), None).await.status, 200);
    assert_eq!(s.api(Method::DELETE, &item, Some(&admin), None).await.status, 204);
    assert_unauthorized(&s.api(Method::GET, &users, Some(&token), None).await, true, "deleted worker");
    TestServer::assert_p1_error(&s.api(Method::GET, &item, Some(&admin), None).await, 404, "NOT_FOUND");
    s.stop().await;
}

async fn no_actor_makes_a_more_privileged_one(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let roles = s.role_ids(&admin).await;
    assert_eq!(roles.len(), 4, "{roles:?}");
    let target = s.create_worker(&admin, ENV, "Plain target").await;
    let developer =
        s.worker_with_roles(&admin, "Developer", &[(CLIENT_APPLICATION_DEVELOPER, "ENVIRONMENT", ENV)]).await;
    let developer = s.worker_token(developer.auth()).await;
    let env_admin_worker = s.worker_with_roles(&admin, "Env admin", &[(ENVIRONMENT_ADMIN, "ENVIRONMENT", ENV)]).await;
    let env_admin = s.worker_token(env_admin_worker.auth()).await;

    // A developer assigns nothing.
    for (role, scope_type, scope_id) in [
        (ENVIRONMENT_ADMIN, "ENVIRONMENT", ENV),
        (IDENTITY_DATA_ADMIN, "ENVIRONMENT", ENV),
        (CLIENT_APPLICATION_DEVELOPER, "ENVIRONMENT", ENV),
        (ENVIRONMENT_ADMIN, "ORGANIZATION", ORG_ID),
        (ORGANIZATION_ADMIN, "ORGANIZATION", ORG_ID),
    ] {
        let answer = s.assign_role(&developer, &target.id, &roles[role], scope_type, scope_id).await;
        assert_forbidden(&answer, &format!("a developer assigning {role} over {scope_type}"));
    }

    // An Environment Admin of one environment: not Organization Admin, nothing organization-wide.
    let org_admin = s.assign_role(&env_admin, &target.id, &roles[ORGANIZATION_ADMIN], "ORGANIZATION", ORG_ID).await;
    assert_forbidden(&org_admin, "Organization Admin by an Environment Admin");
    let org_wide = s.assign_role(&env_admin, &target.id, &roles[ENVIRONMENT_ADMIN], "ORGANIZATION", ORG_ID).await;
    assert_forbidden(&org_wide, "an organization-wide role by an Environment Admin");
    let over_env = s.assign_role(&env_admin, &target.id, &roles[ORGANIZATION_ADMIN], "ENVIRONMENT", ENV).await;
    let details = TestServer::assert_p1_error(&over_env, 400, "INVALID_DATA");
    assert_eq!((details.len(), details[0]["target"].as_str()), (1, Some("scope.id")), "{over_env:?}");
    let unknown_env = uuid::Uuid::new_v4().to_string();
    let nowhere = s.assign_role(&env_admin, &target.id, &roles[IDENTITY_DATA_ADMIN], "ENVIRONMENT", &unknown_env).await;
    let details = TestServer::assert_p1_error(&nowhere, 400, "INVALID_DATA");
    assert_eq!(details[0]["target"], "scope.id", "{nowhere:?}");

    // What it may give, once.
    let given = s.assign_role(&env_admin, &target.id, &roles[IDENTITY_DATA_ADMIN], "ENVIRONMENT", ENV).await;
    assert_eq!(given.status, 201, "{given:?}");
    let again = s.assign_role(&env_admin, &target.id, &roles[IDENTITY_DATA_ADMIN], "ENVIRONMENT", ENV).await;
    let details = TestServer::assert_p1_error(&again, 400, "INVALID_DATA");
    assert_eq!(details.len(), 1, "{again:?}");
    assert_eq!(
        (details[0]["code"].as_str(), details[0]["target"].as_str()),
        (Some("UNIQUENESS_VIOLATION"), Some("role"))
    );
    assert_eq!(assignments(&s, &admin, &target.id).await.len(), 1);

    // It may not take away what it could not give (the admin's Organization Admin).
    let admin_roles = assignments(&s, &admin, demo::ADMIN_APP_ID).await;
    let (_, org_assignment) = admin_roles.iter().find(|(role, _)| *role == roles[ORGANIZATION_ADMIN]).unwrap();
    let path = env_path(ENV, &format!("/applications/{}/roleAssignments/{org_assignment}", demo::ADMIN_APP_ID));
    assert_forbidden(&s.api(Method::DELETE, &path, Some(&env_admin), None).await, "removing Organization Admin");
    assert_eq!(assignments(&s, &admin, demo::ADMIN_APP_ID).await.len(), admin_roles.len());

    // Nor change or delete a worker holding roles it could not give: a developer cannot touch the
    // Environment Admin worker (it could point its credentials at itself); the admin can.
    let env_admin_path = env_path(ENV, &format!("/applications/{}", env_admin_worker.id));
    let current = s.api(Method::GET, &env_admin_path, Some(&admin), None).await.json;
    assert_forbidden(
        &s.api(Method::PUT, &env_admin_path, Some(&developer), Some(current.clone())).await,
        "a developer's PUT of an Environment Admin worker",
    );
    assert_forbidden(
        &s.api(Method::DELETE, &env_admin_path, Some(&developer), None).await,
        "a developer's DELETE of an Environment Admin worker",
    );
    assert_eq!(s.api(Method::PUT, &env_admin_path, Some(&admin), Some(current)).await.status, 200);
    let own = s.api(Method::GET, &env_admin_path, Some(&env_admin), None).await.json;
    assert_eq!(
        s.api(Method::PUT, &env_admin_path, Some(&env_admin), Some(own)).await.status,
        200,
        "a worker may rewrite itself"
    );

    // Only workers hold roles.
    let device_app = s.assign_role(&admin, DEVICE_APP_ID, &roles[IDENTITY_DATA_ADMIN], "ENVIRONMENT", ENV).await;
    TestServer::assert_p1_error(&device_app, 404, "NOT_FOUND");
    let list = env_path(ENV, &format!("/applications/{DEVICE_APP_ID}/roleAssignments"));
    TestServer::assert_p1_error(&s.api(Method::GET, &list, Some(&admin), None).await, 404, "NOT_FOUND");

    // The secret escalation guard: a developer reads a plain app's secret, not an Environment
    // Admin worker's, nor one holding a role it could not give; an Environment Admin reads both.
    let web = s
        .create_app(
            &admin,
            ENV,
            json!({"name": "Plain web", "enabled": true, "type": "WEB_APP", "protocol": "OPENID_CONNECT",
                   "grantTypes": ["AUTHORIZATION_CODE"], "redirectUris": ["https://app.example/cb"],
                   "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC"}),
        )
        .await;
    let secret_of = |id: &str| env_path(ENV, &format!("/applications/{id}/secret"));
    let plain = s.api(Method::GET, &secret_of(web["id"].as_str().unwrap()), Some(&developer), None).await;
    assert_eq!(plain.status, 200, "{plain:?}");
    for guarded in [&env_admin_worker.id, &target.id] {
        for verb in [Method::GET, Method::POST, Method::DELETE] {
            let answer = s.api(verb.clone(), &secret_of(guarded), Some(&developer), None).await;
            assert_forbidden(&answer, &format!("{verb} a privileged worker's secret by a developer"));
            let details = answer.json["details"].as_array().unwrap();
            assert_eq!(
                details[0]["message"],
                "Actor does not have permissions to access worker application client secrets"
            );
        }
    }
    assert_eq!(s.api(Method::GET, &secret_of(&target.id), Some(&env_admin), None).await.status, 200);
    let other_admin = s.worker_with_roles(&admin, "Env admin 2", &[(ENVIRONMENT_ADMIN, "ENVIRONMENT", ENV)]).await;
    assert_eq!(s.api(Method::GET, &secret_of(&other_admin.id), Some(&env_admin), None).await.status, 200);
    s.stop().await;
}

on_both_stores!(
    every_route_refuses_the_wrong_actor,
    role_and_worker_changes_act_at_once,
    no_actor_makes_a_more_privileged_one
);
