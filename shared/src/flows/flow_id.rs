//! Flow ids that carry the flow's starting facts, MAC'd to the environment.
//!
//! Starting a flow (`GET /{envId}/device`) therefore writes nothing: the first action that
//! changes the flow stores it. This saves one store request per device flow.
//! Layout before base64url:
//! `kind (1) | created_ms (6, big-endian) | nonce (10) | binding (16) | app id | tag (16)`
//! where kind 0 has no application, 1 a UUID application id (16 bytes), 2 any other id (UTF-8),
//! plus `AUTHORIZATION` when the flow signs on for an authorization request, and `binding` ties
//! the flow to the browser key of the browser that started it (`browser`).

use crate::app::App;
use crate::browser::{BrowserKey, BINDING_LEN};
use crate::clock::random_bytes;
use crate::hashing::Purpose as MacPurpose;
use crate::store::FlowRecord;

/// Flows expire after 15 minutes without interaction (PING-COMPAT §1.5).
pub const FLOW_LIFETIME_MS: i64 = 15 * 60 * 1000;

const HEADER_LEN: usize = 1 + 6 + 10;

/// The kind bit of flows started by an authorization request (`/as/authorize`).
const AUTHORIZATION: u8 = 0x10;

/// What a flow signs on for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A device flow (`/device`, `/as/user_authz.oauth2`).
    Device,
    /// An authorization request (its flow is stored when it starts).
    Authorization,
}

/// A flow as its id says it started: its facts before any action, and the browser it belongs to.
#[derive(Clone, Debug)]
pub struct Started {
    pub flow: FlowRecord,
    pub purpose: Purpose,
    pub binding: [u8; BINDING_LEN],
    /// The code the browser holds for the flow (`verified`), once `flows::open` read it.
    pub verified: Option<super::verified::Verified>,
}

impl Started {
    /// Whether `browser` is the browser that started the flow.
    pub fn belongs_to(&self, app: &App, browser: &BrowserKey) -> bool {
        browser.owns(app, &self.flow.environment_id, &self.binding)
    }
}

/// A new flow id for `environment_id`, optionally bound to an application, owned by `browser`.
pub fn new_flow_id(
    app: &App,
    environment_id: &str,
    application_id: Option<&str>,
    purpose: Purpose,
    browser: &BrowserKey,
) -> String {
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
    if purpose == Purpose::Authorization {
        payload[0] |= AUTHORIZATION;
    }
    payload.extend_from_slice(&created[2..]);
    payload.extend_from_slice(&random_bytes::<10>(&*app.random));
    payload.extend_from_slice(&browser.binding(app, environment_id));
    payload.extend_from_slice(&app_bytes);
    app.hasher.seal(MacPurpose::FlowId, environment_id, &payload)
}

/// The flow as it was started, if `flow_id` was made here for this environment.
pub fn open_flow_id(app: &App, environment_id: &str, flow_id: &str) -> Option<Started> {
    let payload = app.hasher.open(MacPurpose::FlowId, environment_id, flow_id)?;
    if payload.len() < HEADER_LEN + BINDING_LEN {
        return None;
    }
    let mut created = [0u8; 8];
    created[2..].copy_from_slice(&payload[1..7]);
    let created_ms = i64::from_be_bytes(created);
    let mut binding = [0u8; BINDING_LEN];
    binding.copy_from_slice(&payload[HEADER_LEN..HEADER_LEN + BINDING_LEN]);
    let app_bytes = &payload[HEADER_LEN + BINDING_LEN..];
    let purpose = if payload[0] & AUTHORIZATION != 0 { Purpose::Authorization } else { Purpose::Device };
    let application_id = match payload[0] & !AUTHORIZATION {
        0 if app_bytes.is_empty() => None,
        1 => Some(uuid::Uuid::from_slice(app_bytes).ok()?.hyphenated().to_string()),
        2 => Some(String::from_utf8(app_bytes.to_vec()).ok()?),
        _ => return None,
    };
    let flow = FlowRecord::started(flow_id, environment_id, application_id, created_ms, FLOW_LIFETIME_MS);
    Some(Started { flow, purpose, binding, verified: None })
}
