//! The management API's resources over HTTP on both stores (PING-MGMT §4, §6, §7): unique names
//! under concurrency and in sequence, paging and filtering users, populations and their default,
//! environments with their default population and birthright roles, and the store requests of
//! the common calls.

use blackbox::admin::*;
use blackbox::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared::http::encode_query_value;

fn device_app(name: &str, path_id: &str) -> Value {
    json!({
        "name": name, "enabled": true, "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "NONE", "devicePathId": path_id
    })
}

fn assert_taken(answer: &Answer, target: &str, what: &str) {
    let details = TestServer::assert_p1_error(answer, 400, "INVALID_DATA");
    assert_eq!(details.len(), 1, "{what}: {answer:?}");
    assert_eq!(
        (details[0]["code"].as_str(), details[0]["target"].as_str()),
        (Some("UNIQUENESS_VIOLATION"), Some(target)),
        "{what}: {answer:?}"
    );
}

/// The users matching `filter` (all of one page).
async fn users_where(s: &TestServer, token: &str, filter: &str) -> Answer {
    let path = env_path(ENV, &format!("/users?filter={}", encode_query_value(filter)));
    let answer = s.api(Method::GET, &path, Some(token), None).await;
    assert_eq!(answer.status, 200, "{filter}: {answer:?}");
    answer
}

fn usernames(list: &Answer) -> Vec<String> {
    let mut names: Vec<String> = list.json["_embedded"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Of racing creates, one wins; the others lose on `target` (or, for a transaction conflict the
/// store could not settle, a retryable 409/503). Returns the tally.
fn one_winner(answers: &[Answer], target: &str, success: u16) -> (usize, usize, usize) {
    let (mut won, mut taken, mut retry) = (0, 0, 0);
    for answer in answers {
        match answer.status {
            s if s == success => won += 1,
            400 => {
                assert_taken(answer, target, "a racing duplicate");
                taken += 1;
            }
            409 | 503 => retry += 1,
            _ => panic!("a racing duplicate answered {answer:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one winner: {won} won, {taken} taken, {retry} to retry");
    (won, taken, retry)
}

async fn concurrent_duplicates_have_one_winner(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let creates =
        (0..16).map(|i| s.create_user(&admin, json!({"username": "racer", "email": format!("r{i}@example.com")})));
    let tally = one_winner(&futures::future::join_all(creates).await, "username", 201);
    println!("{kind:?}: 16 racing user creates: (won, taken, retry) = {tally:?}");
    assert_eq!(users_where(&s, &admin, r#"username eq "racer""#).await.json["count"], 1);

    let apps = (0..16).map(|i| s.create_app_answer(&admin, device_app(&format!("Racer {i}"), "race-tv")));
    let tally = one_winner(&futures::future::join_all(apps).await, "devicePathId", 201);
    println!("{kind:?}: 16 racing app creates: (won, taken, retry) = {tally:?}");
    let listed = s.api(Method::GET, &env_path(ENV, "/applications"), Some(&admin), None).await;
    let holders = listed.json["_embedded"]["applications"].as_array().unwrap();
    assert_eq!(holders.iter().filter(|a| a["devicePathId"] == "race-tv").count(), 1);
    let grant = s.device_authorization(shared::Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    assert_eq!(grant.status, 200, "the other apps still work: {grant:?}");

    // Existing applications racing to take one devicePathId by PUT.
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            s.create_app(&admin, ENV, device_app(&format!("Mover {i}"), &format!("mover-{i}"))).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let server = &s;
    let puts = ids.iter().enumerate().map(|(i, id)| {
        let path = env_path(ENV, &format!("/applications/{id}"));
        let body = device_app(&format!("Mover {i}"), "moved-here");
        let admin = admin.clone();
        async move { server.api(Method::PUT, &path, Some(&admin), Some(body)).await }
    });
    let tally = one_winner(&futures::future::join_all(puts).await, "devicePathId", 200);
    println!("{kind:?}: 8 racing app renames: (won, taken, retry) = {tally:?}");
    let listed = s.api(Method::GET, &env_path(ENV, "/applications"), Some(&admin), None).await;
    let apps = listed.json["_embedded"]["applications"].as_array().unwrap();
    assert_eq!(apps.iter().filter(|a| a["devicePathId"] == "moved-here").count(), 1);
    let kept = apps.iter().filter(|a| a["devicePathId"].as_str().is_some_and(|p| p.starts_with("mover-"))).count();
    assert_eq!(kept, 7, "the losers kept their own devicePathId");

    let collection = env_path(ENV, "/populations");
    let populations = (0..8).map(|_| s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": "Racers"}))));
    let tally = one_winner(&futures::future::join_all(populations).await, "name", 201);
    println!("{kind:?}: 8 racing population creates: (won, taken, retry) = {tally:?}");

    // Racing to be the default: whoever wins, one population is the default after.
    let flips = (0..8).map(|i| {
        s.api(Method::POST, &collection, Some(&admin), Some(json!({"name": format!("Default {i}"), "default": true})))
    });
    let answers = futures::future::join_all(flips).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    for answer in &answers {
        if answer.status != 201 {
            TestServer::assert_p1_error(answer, 409, "INVALID_REQUEST");
        }
    }
    println!("{kind:?}: 8 racing default populations: {created} created, {} to retry", 8 - created);
    assert!(created >= 1, "{answers:?}");
    let listed = s.api(Method::GET, &collection, Some(&admin), None).await;
    let defaults: Vec<_> =
        listed.json["_embedded"]["populations"].as_array().unwrap().iter().filter(|p| p["default"] == true).collect();
    assert_eq!(defaults.len(), 1, "exactly one default: {listed:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_have_one_winner_in_memory() {
    concurrent_duplicates_have_one_winner(StoreKind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_have_one_winner_on_dynamodb() {
    concurrent_duplicates_have_one_winner(StoreKind::DynamoDb).await;
}

async fn sequential_duplicates_are_refused(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let first = s.create_user(&admin, json!({"username": "Dup-User", "email": "dup1@example.com"})).await;
    assert_eq!(first.status, 201, "{first:?}");
    for name in ["Dup-User", "dup-user", "DUP-USER", "demo"] {
        let again = s.create_user(&admin, json!({"username": name, "email": "dup2@example.com"})).await;
        assert_taken(&again, "username", name);
    }
    let other = s.create_user(&admin, json!({"username": "other-user", "email": "other@example.com"})).await;
    let item = env_path(ENV, &format!("/users/{}", other.str("id")));
    assert_taken(
        &s.api(Method::PATCH, &item, Some(&admin), Some(json!({"username": "dup-user"}))).await,
        "username",
        "PATCH",
    );
    let put =
        s.api(Method::PUT, &item, Some(&admin), Some(json!({"username": "demo", "email": "o@example.com"}))).await;
    assert_taken(&put, "username", "PUT");
    let same = s.api(Method::PATCH, &item, Some(&admin), Some(json!({"username": "Other-User"}))).await;
    assert_eq!(
        (same.status, same.json["username"].as_str()),
        (200, Some("Other-User")),
        "its own name in another case"
    );

    let app = s.create_app(&admin, ENV, device_app("Dup TV", "dup-tv")).await;
    for path_id in ["dup-tv", "tv"] {
        assert_taken(&s.create_app_answer(&admin, device_app("Dup TV 2", path_id)).await, "devicePathId", path_id);
    }
    let second = s.create_app(&admin, ENV, device_app("Second TV", "second-tv")).await;
    let second_item = env_path(ENV, &format!("/applications/{}", second["id"].as_str().unwrap()));
    assert_taken(
        &s.api(Method::PUT, &second_item, Some(&admin), Some(device_app("Second TV", "dup-tv"))).await,
        "devicePathId",
        "PUT",
    );
    assert_eq!(
        s.api(Method::PUT, &second_item, Some(&admin), Some(device_app("Second TV", "second-tv"))).await.status,
        200
    );
    // Freed by a delete, or by a PUT that gives it up.
    let app_item = env_path(ENV, &format!("/applications/{}", app["id"].as_str().unwrap()));
    assert_eq!(s.api(Method::DELETE, &app_item, Some(&admin), None).await.status, 204);
    assert_eq!(s.create_app_answer(&admin, device_app("Dup TV 3", "dup-tv")).await.status, 201);
    let mut without = device_app("Second TV", "x");
    without.as_object_mut().unwrap().remove("devicePathId");
    assert_eq!(s.api(Method::PUT, &second_item, Some(&admin), Some(without)).await.status, 200);
    assert_eq!(s.create_app_answer(&admin, device_app("Second TV 2", "second-tv")).await.status, 201);
    s.stop().await;
}

async fn users_page_and_filter(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let admin = s.admin_token().await;
    let population =
        s.api(Method::POST, &env_path(ENV, "/populations"), Some(&admin), Some(json!({"name": "Paged"}))).await;
    let population_id = population.str("id");
    let mut paged = Vec::new();
    for i in 0..7 {
        let body = json!({"username": format!("page-{i}"), "email": format!("page{i}@paging.example"), "population": {"id": population_id}});
        let user = s.create_user(&admin, body).await;
        assert_eq!(user.status, 201, "{user:?}");
        paged.push(user.str("id"));
    }
    for name in ["other-a", "other-b"] {
        assert_eq!(
            s.create_user(&admin, json!({"username": name, "email": format!("{name}@x.example")})).await.status,
            201
        );
    }

    // limit=3 over the 7 of a filter, then over all 10, by following `next`.
    let filter = encode_query_value(r#"username sw "page-""#);
    for (query, expected) in [(format!("filter={filter}&limit=3"), 7), ("limit=3".to_owned(), 10)] {
        let mut url = s.url(&format!("/v1{}?{query}", env_path(ENV, "/users")));
        let (mut seen, mut sizes) = (Vec::new(), Vec::new());
        loop {
            let page = s.api_url(Method::GET, &url, &admin).await;
            assert_eq!(page.status, 200, "{page:?}");
            let users = page.json["_embedded"]["users"].as_array().unwrap();
            assert_eq!(
                (page.json["count"].as_u64(), page.json["size"].as_u64()),
                (Some(expected), Some(users.len() as u64)),
                "{page:?}"
            );
            sizes.push(users.len());
            seen.extend(users.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
            match page.json["_links"]["next"]["href"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
            assert!(sizes.len() < 10, "paging ends");
        }
        let expected_sizes: Vec<usize> =
            (0..expected as usize).step_by(3).map(|i| (expected as usize - i).min(3)).collect();
        assert_eq!(sizes, expected_sizes, "{query}");
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: no user twice");
        assert_eq!(seen.len(), expected as usize, "{query}: every user once");
        assert!(paged.iter().all(|id| seen.contains(id)), "{query}");
    }
    let all = s.api(Method::GET, &env_path(ENV, "/users"), Some(&admin), None).await;
    assert_eq!((all.json["count"].as_u64(), all.json["size"].as_u64()), (Some(10), Some(10)));
    assert!(all.json["_links"].get("next").is_none(), "{all:?}");

    let default = demo::POPULATION_ID;
    for (filter, expected) in [
        (r#"username eq "page-3""#.to_owned(), vec!["page-3"]),
        (r#"username eq "PAGE-3""#.to_owned(), vec!["page-3"]),
        (r#"USERNAME EQ "page-3""#.to_owned(), vec!["page-3"]),
        (
            r#"username sw "page-""#.to_owned(),
            vec!["page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"],
        ),
        (r#"username sw "other""#.to_owned(), vec!["other-a", "other-b"]),
        (r#"email sw "page1""#.to_owned(), vec!["page-1"]),
        (r#"email eq "other-a@x.example""#.to_owned(), vec!["other-a"]),
        (r#"email sw "OTHER""#.to_owned(), vec!["other-a", "other-b"]),
        (format!(r#"population.id eq "{default}""#), vec!["demo", "other-a", "other-b"]),
        (format!(r#"population.id eq "{population_id}" and username sw "page-1""#), vec!["page-1"]),
        (format!(r#"population.id eq "{population_id}" and email eq "other-a@x.example""#), vec![]),
        (r#"username eq "page-1" or username eq "other-a""#.to_owned(), vec!["other-a", "page-1"]),
        (
            r#"username eq "other-b" or username sw "page-" and email eq "page2@paging.example""#.to_owned(),
            vec!["other-b", "page-2"],
        ),
        (r#"name.family eq "User""#.to_owned(), vec!["demo"]),
        (r#"username eq "nobody""#.to_owned(), vec![]),
    ] {
        let list = users_where(&s, &admin, &filter).await;
        assert_eq!(usernames(&list), expected, "{filter}");
        assert_eq!(list.json["count"].as_u64(), Some(expected.len() as u64), "{filter}");
    }

    for bad in [
        r#"username co "a""#,
        r#"username ne "a""#,
        r#"password eq "x""#,
        r#"username eq page-1"#,
        r#"name.middle eq "x""#,
        r#"username eq "a" xor email eq "b""#,
        r#"username pr"#,
    ] {
        let path = env_path(ENV, &format!("/users?filter={}", encode_query_value(bad)));
        let answer = s.api(Method::GET, &path, Some(&admin), None).await;
        let details = TestServer::assert_p1_error(&answer, 400, "INVALID_DATA");
        assert_eq!(
            (details[0]["code"].as_str(), details[0]["target"].as_str()),
            (Some("INVALID_FILTER"), Some("filter")),
            "{bad}: {answer:?}"
        );
        assert!(
            details[0]["innerError"]["supportedAttributes"].as_array().is_some_and(|a| a.contains(&json!("username"))),
            "{answer:?}"
        );
    }
    let zero = s.api(Method::GET, &env_path(ENV, "/users?limit=0"), Some(&admin), None).await;
    let details = TestServer::assert_p1_error(&zero, 400, "INVALID_DATA");
    assert_eq!(details[0]["target"], "limit");
    s.stop().await;
}

on_both_stores!(sequential_duplicates_are_refused, users_page_and_filter);
