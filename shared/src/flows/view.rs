//! The PingOne flow resource as JSON (PING-COMPAT §1.5): status, HAL links for the actions the
//! status allows, and the embedded user, application and device request.

use serde_json::{json, Map, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use super::FlowStatus;
use crate::app::App;
use crate::model::Application;
use crate::store::FlowRecord;

/// ISO-8601 with milliseconds and `Z`, as PingOne writes timestamps.
pub fn iso_ms(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// Where the browser goes when the flow is done (PING-COMPAT §2.2).
pub fn resume_url(app: &App, flow: &FlowRecord) -> String {
    format!("{}/{}/as/resume?flowId={}", app.settings.public_base_url, flow.environment_id, flow.flow_id)
}

pub fn flow_href(app: &App, flow: &FlowRecord) -> String {
    format!("{}/{}/flows/{}", app.settings.public_base_url, flow.environment_id, flow.flow_id)
}

/// The flow JSON. `application` is the application the flow is for, when known.
pub fn flow_json(app: &App, flow: &FlowRecord, application: Option<&Application>) -> Value {
    let status = super::status(flow);
    let href = flow_href(app, flow);
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": href }));
    if let Some(action) = status.action() {
        links.insert(action.into(), json!({ "href": href }));
    }
    let mut embedded = Map::new();
    if let Some(user) = &flow.user {
        let mut name = Map::new();
        if let Some(g) = &user.given_name {
            name.insert("given".into(), json!(g));
        }
        if let Some(f) = &user.family_name {
            name.insert("family".into(), json!(f));
        }
        embedded.insert("user".into(), json!({ "id": user.id, "username": user.username, "name": name }));
    }
    if let Some(application) = application {
        embedded.insert("application".into(), json!({ "id": application.client_id, "name": application.name }));
    }
    if let Some(device) = &flow.device {
        let mut request = json!({
            "scopes": device.scopes,
            "requestedAt": iso_ms(device.requested_ms),
        });
        if let Some(ip) = &device.requester.ip {
            request["ipAddress"] = json!(ip);
        }
        if let Some(agent) = &device.requester.user_agent {
            request["userAgent"] = json!(agent);
        }
        embedded.insert("deviceAuthorization".into(), request);
    }
    let mut body = json!({
        "_links": links,
        "id": flow.flow_id,
        "environment": { "id": flow.environment_id },
        "status": status.as_str(),
        "createdAt": iso_ms(flow.created_ms),
        "expiresAt": iso_ms(flow.expires_ms),
    });
    // A session exists once the person is signed on; not while a password change is pending.
    if let Some(user) = flow.user.as_ref().filter(|u| !u.must_change_password) {
        body["session"] = json!({ "id": user.session_id });
    }
    if let Some(request) = &flow.authorize {
        body["resumeUrl"] = json!(resume_url(app, flow));
        embedded.insert("scopes".into(), json!(request.scopes));
    }
    if status == FlowStatus::Failed {
        let message = match flow.authorize {
            Some(_) => "The authorization request was denied.",
            None => "The request for device authorization was denied.",
        };
        body["error"] = json!({ "code": "ACCESS_DENIED", "message": message });
    }
    if !embedded.is_empty() {
        body["_embedded"] = Value::Object(embedded);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        assert_eq!(iso_ms(1_627_057_174_570), "2021-07-23T16:19:34.570Z");
    }
}
