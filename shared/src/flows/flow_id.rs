//! Flow ids that carry the flow's starting facts, MAC'd to the environment.
//!
//! Starting a flow (`GET /{envId}/device`) therefore writes nothing: the first action that
//! changes the flow stores it. This saves one store request per device flow.
//! Layout before base64url: `kind (1) | created_ms (6, big-endian) | nonce (10) | app id | tag (16)`
//! where kind 0 has no application, 1 a UUID application id (16 bytes), 2 any other id (UTF-8).

use crate::app::App;
use crate::clock::random_bytes;
use crate::hashing::Purpose;
use crate::store::FlowRecord;

/// Flows expire after 15 minutes without interaction (PING-COMPAT §1.5).
pub const FLOW_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// A new flow id for `environment_id`, optionally bound to an application.
pub fn new_flow_id(app: &App, environment_id: &str, application_id: Option<&str>) -> String {
    let created = app.clock.now_ms().to_be_bytes();
    let mut payload = Vec::with_capacity(64);
    let app_bytes: Vec<u8> = match application_id {
        None => {
            payload.push(0);
            Vec::new()
        }
        Some(id) => match uuid::Uuid::try_parse(id) {
            Ok(uuid) if uuid.hyphenated().to_string() == id => {
                payload.push(1);
                uuid.as_bytes().to_vec()
            }
            _ => {
                payload.push(2);
                id.as_bytes().to_vec()
            }
        },
    };
    payload.extend_from_slice(&created[2..]);
    payload.extend_from_slice(&random_bytes::<10>(&*app.random));
    payload.extend_from_slice(&app_bytes);
    app.hasher.seal(Purpose::FlowId, environment_id, &payload)
}

/// The flow as it was started, if `flow_id` was made here for this environment.
/// The result is what the flow looks like before any action stored it.
pub fn open_flow_id(app: &App, environment_id: &str, flow_id: &str) -> Option<FlowRecord> {
    let payload = app.hasher.open(Purpose::FlowId, environment_id, flow_id)?;
    if payload.len() < 17 {
        return None;
    }
    let mut created = [0u8; 8];
    created[2..].copy_from_slice(&payload[1..7]);
    let created_ms = i64::from_be_bytes(created);
    let app_bytes = &payload[17..];
    let application_id = match payload[0] {
        0 => None,
        1 => Some(uuid::Uuid::from_slice(app_bytes).ok()?.hyphenated().to_string()),
        2 => Some(String::from_utf8(app_bytes.to_vec()).ok()?),
        _ => return None,
    };
    Some(FlowRecord {
        flow_id: flow_id.to_owned(),
        environment_id: environment_id.to_owned(),
        application_id,
        created_ms,
        expires_ms: created_ms + FLOW_LIFETIME_MS,
        user: None,
        device: None,
        consent: None,
        code_failures: 0,
        authorize: None,
        resumed_ms: None,
    })
}
