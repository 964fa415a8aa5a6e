//! PingOne's HAL shapes (PING-MGMT §1): absolute `_links`, `_embedded` collections with
//! `count` and `size`, ISO-8601 timestamps with milliseconds, `201` + `Location`, `204`.

use http::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::http::{json, no_store, Response};

pub use crate::flows::view::iso_ms as timestamp;

/// The absolute URL of a management path (`/environments/...`).
pub fn url(app: &App, path: &str) -> String {
    format!("{}/v1{path}", app.settings.public_base_url)
}

/// The absolute URL of an environment's resource path (`""`, `/users/{id}`).
pub fn env_url(app: &App, environment_id: &str, path: &str) -> String {
    url(app, &format!("/environments/{environment_id}{path}"))
}

/// `{"href": ...}`.
pub fn href(url: String) -> Value {
    json!({ "href": url })
}

/// `_links` from (relation, URL) pairs.
pub fn links(pairs: Vec<(&str, String)>) -> Value {
    let mut map = Map::new();
    for (rel, url) in pairs {
        map.insert(rel.to_owned(), href(url));
    }
    Value::Object(map)
}

fn hal(status: StatusCode, body: &Value) -> Response {
    let mut response = no_store(json(status, body));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/hal+json;charset=UTF-8"));
    response
}

/// `200` with a resource or collection.
pub fn ok(body: &Value) -> Response {
    hal(StatusCode::OK, body)
}

/// `201 Created` with the resource and its `Location` (its `_links.self`).
pub fn created(body: &Value) -> Response {
    let mut response = hal(StatusCode::CREATED, body);
    if let Some(location) = body["_links"]["self"]["href"].as_str().and_then(|l| HeaderValue::from_str(l).ok()) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// `204 No Content`.
pub fn deleted() -> Response {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    no_store(response)
}

/// A collection: `_embedded.<name>`, `count` (all matches), `size` (this page), `next` when
/// more follow.
pub fn collection(self_url: String, name: &str, items: Vec<Value>, count: usize, next: Option<String>) -> Value {
    let mut link_pairs = vec![("self", self_url)];
    if let Some(next) = next {
        link_pairs.push(("next", next));
    }
    json!({
        "_links": links(link_pairs),
        "_embedded": { name: items.clone() },
        "count": count,
        "size": items.len(),
    })
}

/// Adds the read-only properties every environment resource has.
pub fn stamp(mut body: Value, environment_id: &str, created_ms: i64, updated_ms: i64) -> Value {
    body["environment"] = json!({ "id": environment_id });
    body["createdAt"] = json!(timestamp(created_ms));
    body["updatedAt"] = json!(timestamp(updated_ms));
    body
}
