//! Environments and populations over HTTP on both stores (PING-MGMT §3.3, §4, §6): an
//! Organization Admin creates an environment with its default population and receives the
//! birthright roles over it; one population is always the default, the last, the default and a
//! non-empty one cannot be deleted, names are unique; and the store requests each common
//! management call costs, held at their current values.

use blackbox::admin::*;
use blackbox::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::store::counting::total;

const ORG_ID: &str = shared::model::ORGANIZATION_ID;

fn constraint(answer: &Answer, what: &str) {
    let details = TestServer::assert_p1_error(answer, 400, "INVALID_DATA");
    assert_eq!((details.len(), details[0]["code"].as_str()), (1, Some("CONSTRAINT_VIOLATION")), "{what}: {answer:?}");
}

fn taken(answer: &Answer, target: &str, what: &str) {
    let details = TestServer::assert_p1_error(answer, 400, "INVALID_DATA");
    assert_eq!(
        (details.len(), details[0]["code"].as_str(), details[0]["target"].as_str()),
        (1, Some("UNIQUENESS_VIOLATION"), Some(target)),
        "{what}: {answer:?}"
    );
}

/// (name, default, userCount) of every population, by name.
async fn populations(s: &TestServer, token: &str, env: &str) -> Vec<(String, bool, u64)> {
    let listed = s.api(Method::GET, &env_path(env, "/populations"), Some(token), None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let items = listed.json["_embedded"]["populations"].as_array().unwrap();
    assert_eq!(listed.json["count"].as_u64(), Some(items.len() as u64));
    let mut out: Vec<_> = items
        .iter()
        .map(|p| {
            (p["name"].as_str().unwrap().to_owned(), p["default"].as_bool().unwrap(), p["userCount"].as_u64().unwrap())
        })
        .collect();
    out.sort();
    out
}

fn row(name: &str, default: bool, users: u64) -> (String, bool, u64) {
    (name.to_owned(), default, users)
}

async fn populations_keep_one_default(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let collection = env_path(ENV, "/populations");
    let item = |id: &str| env_path(ENV, &format!("/populations/{id}"));
    assert_eq!(populations(&s, &admin, ENV).await, [row("Default", true, 1)]);

    let second = s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": "Second"}))).await;
    assert_eq!((second.status, second.json["default"].as_bool()), (201, Some(false)), "{second:?}");
    assert_eq!(second.header("location"), second.json["_links"]["self"]["href"].as_str());
    let second = second.str("id");
    let third = s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": "Third", "default": true}))).await;
    assert_eq!((third.status, third.json["default"].as_bool()), (201, Some(true)), "{third:?}");
    let third = third.str("id");
    assert_eq!(
        populations(&s, &admin, ENV).await,
        [row("Default", false, 1), row("Second", false, 0), row("Third", true, 0)],
        "the new default unmarked the old one"
    );

    // Users without a population go to the default; userCount follows.
    let defaulted = s.create_user(&admin, json!({"username": "to-default", "email": "d@example.com"})).await;
    assert_eq!(defaulted.json["population"]["id"], third.as_str(), "{defaulted:?}");
    let placed = s
        .create_user(&admin, json!({"username": "to-second", "email": "s@example.com", "population": {"id": second}}))
        .await;
    assert_eq!(placed.json["population"]["id"], second.as_str(), "{placed:?}");
    let shown = s.api(Method::GET, &item(&second), Some(&admin), None).await;
    assert_eq!((shown.json["userCount"].as_u64(), shown.json["name"].as_str()), (Some(1), Some("Second")));
    assert_eq!(
        populations(&s, &admin, ENV).await,
        [row("Default", false, 1), row("Second", false, 1), row("Third", true, 1)]
    );

    // The default and a population with users stay; an empty one goes.
    constraint(&s.api(Method::DELETE, &item(&third), Some(&admin), None).await, "the default");
    constraint(&s.api(Method::DELETE, &item(&second), Some(&admin), None).await, "with a user");
    let user = env_path(ENV, &format!("/users/{}", placed.str("id")));
    assert_eq!(s.api(Method::DELETE, &user, Some(&admin), None).await.status, 204);
    assert_eq!(s.api(Method::DELETE, &item(&second), Some(&admin), None).await.status, 204);
    TestServer::assert_p1_error(&s.api(Method::GET, &item(&second), Some(&admin), None).await, 404, "NOT_FOUND");

    // Names are unique in any case; a rename frees the old name.
    for name in ["Third", "third", "DEFAULT"] {
        let again = s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": name}))).await;
        taken(&again, "name", name);
    }
    let clash = s.api(Method::PUT, &item(demo::POPULATION_ID), Some(&admin), Some(json!({"name": "Third"}))).await;
    taken(&clash, "name", "a rename onto another's name");
    let renamed = s.api(Method::PUT, &item(demo::POPULATION_ID), Some(&admin), Some(json!({"name": "Renamed"}))).await;
    assert_eq!((renamed.status, renamed.json["name"].as_str()), (200, Some("Renamed")), "{renamed:?}");
    assert_eq!(renamed.json["userCount"], 1, "{renamed:?}");
    let reused = s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": "Default"}))).await;
    assert_eq!(reused.status, 201, "{reused:?}");

    // Making the old one the default again by PUT unmarks the current default.
    let back = s
        .api(Method::PUT, &item(demo::POPULATION_ID), Some(&admin), Some(json!({"name": "Renamed", "default": true})))
        .await;
    assert_eq!((back.status, back.json["default"].as_bool()), (200, Some(true)), "{back:?}");
    assert_eq!(
        populations(&s, &admin, ENV).await,
        [row("Default", false, 0), row("Renamed", true, 1), row("Third", false, 1)]
    );
    s.stop().await;
}

async fn environments_come_with_a_population_and_birthright_roles(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let listed = s.api(Method::GET, "/environments", Some(&admin), None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let ids: Vec<_> =
        listed.json["_embedded"]["environments"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids, [json!(ENV)], "{listed:?}");
    assert_eq!((listed.json["count"].as_u64(), listed.json["size"].as_u64()), (Some(1), Some(1)));
    let demo_env = s.api(Method::GET, &env_path(ENV, ""), Some(&admin), None).await;
    assert_eq!((demo_env.status, demo_env.json["organization"]["id"].as_str()), (200, Some(ORG_ID)), "{demo_env:?}");
    let roles_before = s
        .api(
            Method::GET,
            &env_path(ENV, &format!("/applications/{}/roleAssignments", demo::ADMIN_APP_ID)),
            Some(&admin),
            None,
        )
        .await;

    let body = json!({"name": "Created Env", "description": "By the admin", "type": "SANDBOX", "region": "EU"});
    let created = s.api(Method::POST, "/environments", Some(&admin), Some(body)).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.header("location"), created.json["_links"]["self"]["href"].as_str());
    assert_eq!(
        (
            created.json["name"].as_str(),
            created.json["region"].as_str(),
            created.json["type"].as_str(),
            created.json["status"].as_str()
        ),
        (Some("Created Env"), Some("EU"), Some("SANDBOX"), Some("ACTIVE"))
    );
    let env = created.str("id");
    assert_eq!(s.api(Method::GET, &env_path(&env, ""), Some(&admin), None).await.json, created.json);

    // Its default population, and the creator's birthright roles over it, in use at once.
    assert_eq!(populations(&s, &admin, &env).await, [row("Default", true, 0)]);
    let roles = s.role_ids(&admin).await;
    let after = s
        .api(
            Method::GET,
            &env_path(ENV, &format!("/applications/{}/roleAssignments", demo::ADMIN_APP_ID)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(after.json["count"].as_u64(), roles_before.json["count"].as_u64().map(|n| n + 3));
    let mut birthright: Vec<String> = after.json["_embedded"]["roleAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"]["id"] == env.as_str())
        .map(|a| {
            assert_eq!(a["scope"]["type"], "ENVIRONMENT");
            a["role"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    birthright.sort();
    let mut expected: Vec<String> = [ENVIRONMENT_ADMIN, IDENTITY_DATA_ADMIN, CLIENT_APPLICATION_DEVELOPER]
        .iter()
        .map(|r| roles[*r].clone())
        .collect();
    expected.sort();
    assert_eq!(birthright, expected);
    let user = s
        .api(
            Method::POST,
            &env_path(&env, "/users"),
            Some(&admin),
            Some(json!({"username": "first", "email": "first@example.com"})),
        )
        .await;
    assert_eq!(user.status, 201, "{user:?}");
    assert_eq!(user.json["environment"]["id"], env.as_str());
    let app = s.create_app(&admin, &env, json!({"name": "There", "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT", "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "NONE", "devicePathId": "tv"})).await;
    assert_eq!(app["environment"]["id"], env.as_str(), "devicePathIds are unique per environment only");
    let mut names = Vec::new();
    for e in s.api(Method::GET, "/environments", Some(&admin), None).await.json["_embedded"]["environments"]
        .as_array()
        .unwrap()
    {
        names.push(e["name"].as_str().unwrap().to_owned());
    }
    names.sort();
    assert_eq!(names, ["Created Env", "Demo"]);

    // Names are unique in the organization.
    for name in ["Created Env", "created env", "DEMO"] {
        let again = s
            .api(
                Method::POST,
                "/environments",
                Some(&admin),
                Some(json!({"name": name, "type": "SANDBOX", "region": "NA"})),
            )
            .await;
        taken(&again, "name", name);
    }

    // Only an Organization Admin creates environments; nobody else reads the new one.
    let env_admin = s.worker_with_roles(&admin, "Env admin", &[(ENVIRONMENT_ADMIN, "ENVIRONMENT", ENV)]).await;
    let org_wide =
        s.worker_with_roles(&admin, "Org-wide env admin", &[(ENVIRONMENT_ADMIN, "ORGANIZATION", ORG_ID)]).await;
    let body = json!({"name": "Not allowed", "type": "SANDBOX", "region": "NA"});
    for worker in [&env_admin, &org_wide] {
        let token = s.worker_token(worker.auth()).await;
        let refused = s.api(Method::POST, "/environments", Some(&token), Some(body.clone())).await;
        let details = TestServer::assert_p1_error(&refused, 403, "ACCESS_FAILED");
        assert_eq!(details[0]["code"], "INSUFFICIENT_PERMISSIONS");
    }
    let env_admin = s.worker_token(env_admin.auth()).await;
    TestServer::assert_p1_error(
        &s.api(Method::GET, &env_path(&env, ""), Some(&env_admin), None).await,
        403,
        "ACCESS_FAILED",
    );
    TestServer::assert_p1_error(
        &s.api(Method::GET, &env_path(&env, "/users"), Some(&env_admin), None).await,
        403,
        "ACCESS_FAILED",
    );
    // The organization-wide Environment Admin works in every environment, the new one included.
    let org_wide = s.worker_token(org_wide.auth()).await;
    let there = s.api(Method::GET, &env_path(&env, "/users"), Some(&org_wide), None).await;
    assert_eq!((there.status, there.json["count"].as_u64()), (200, Some(1)), "{there:?}");

    // The last population of an environment stays.
    let only = s.api(Method::GET, &env_path(&env, "/populations"), Some(&admin), None).await;
    let only = only.json["_embedded"]["populations"][0]["id"].as_str().unwrap().to_owned();
    constraint(
        &s.api(Method::DELETE, &env_path(&env, &format!("/populations/{only}")), Some(&admin), None).await,
        "the last population",
    );
    s.stop().await;
}

/// The store requests of one call.
async fn cost(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<(&str, Value)>,
    status: u16,
) -> u64 {
    s.requests();
    let answer = s.api_as(method, path, Some(token), body).await;
    assert_eq!(answer.status, status, "{path}: {answer:?}");
    total(&s.requests())
}

async fn request_budget_of_management_calls(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let user = env_path(ENV, &format!("/users/{}", demo::USER_ID));
    // Warm: the first call of an instance.
    cost(&s, Method::GET, &user, &admin, None, 200).await;
    let read = cost(&s, Method::GET, &user, &admin, None, 200).await;
    let body = json!({"username": "budget-user", "email": "budget@example.com"});
    let create = cost(&s, Method::POST, &env_path(ENV, "/users"), &admin, Some(("application/json", body)), 201).await;
    let body =
        json!({"username": "budget-placed", "email": "placed@example.com", "population": {"id": demo::POPULATION_ID}});
    let create_in =
        cost(&s, Method::POST, &env_path(ENV, "/users"), &admin, Some(("application/json", body)), 201).await;
    let app = json!({"name": "Budget TV", "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT", "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "NONE"});
    let app_create =
        cost(&s, Method::POST, &env_path(ENV, "/applications"), &admin, Some(("application/json", app)), 201).await;
    let password = json!({"value": "Budget-Pass1", "forceChange": false});
    let password_set =
        cost(&s, Method::PUT, &format!("{user}/password"), &admin, Some((PASSWORD_SET, password)), 200).await;
    let rename =
        cost(&s, Method::PATCH, &user, &admin, Some(("application/json", json!({"username": "demo-renamed"}))), 200)
            .await;
    let list = cost(&s, Method::GET, &env_path(ENV, "/users?limit=2"), &admin, None, 200).await;
    let figures = [
        ("user read", read),
        ("user create", create),
        ("user create with population.id", create_in),
        ("app create", app_create),
        ("password set", password_set),
        ("user rename", rename),
        ("users list", list),
    ];
    println!("{kind:?} management store requests: {figures:?}");
    // Held at their current values: a change here is a regression to explain (or a gain to record).
    assert_eq!(
        figures,
        [
            ("user read", 3),
            ("user create", 5),
            ("user create with population.id", 5),
            ("app create", 4),
            ("password set", 4),
            ("user rename", 4),
            ("users list", 4),
        ],
        "{kind:?}"
    );
    s.stop().await;
}

on_both_stores!(
    populations_keep_one_default,
    environments_come_with_a_population_and_birthright_roles,
    request_budget_of_management_calls,
);
