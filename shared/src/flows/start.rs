//! Starting the person's side of a device flow (`GET /{envId}/device[/{app}]`, PingFederate's
//! `/as/user_authz.oauth2`). The flow id is drawn for the browser that asks, so the flow is
//! that browser's. The start is the one moment the flow may act on the browser's own state:
//!
//! - a live `ST` session signs the flow on (PingOne: "Cookie: {{sessionToken}}" on `/device`);
//! - a code in the link is taken at once when its confirmation is bypassed (PingFederate's
//!   "Bypass Activation Code Confirmation", globally or for the code's application; seed 000,
//!   phase 1), under the guessing limits like any other try.
//!
//! Otherwise the start writes nothing: the flow id carries its starting facts.

use std::net::IpAddr;

use super::{act, audit_step, open_flow_id, user_code, FlowAction, Refusal};
use crate::app::App;
use crate::audit::Action;
use crate::browser::BrowserKey;
use crate::codes::UserCode;
use crate::error::FlowError;
use crate::sessions::Session;
use crate::store::FlowRecord;

/// A started flow, and what its first page shows.
#[derive(Debug)]
pub struct DeviceStart {
    pub flow_id: String,
    /// A code from the link for the person to confirm.
    pub confirm: Option<UserCode>,
    /// A code from the link could not be taken: why, for the code page (`pages::text::notice`).
    pub notice: Option<&'static str>,
}

/// Why a code from the link was not taken (keys of `pages::text::notice`).
pub const NOTICE_INVALID_CODE: &str = "invalid_code";
pub const NOTICE_TOO_MANY: &str = "too_many";

/// Starts a flow for `browser`, optionally for one application, with an optional code from the
/// link.
pub async fn device_flow(
    app: &App,
    env: &str,
    application_id: Option<&str>,
    browser: &BrowserKey,
    session: Option<Session>,
    code: Option<UserCode>,
    ip: Option<IpAddr>,
) -> Result<DeviceStart, FlowError> {
    let flow_id = super::new_flow_id(app, env, application_id, super::Purpose::Device, browser);
    let started = open_flow_id(app, env, &flow_id).ok_or_else(FlowError::unavailable)?.flow;
    let mut flow = started.clone();
    if let Some(session) = session {
        // A session that no longer stands (user gone or disabled, session ended) just asks for
        // a sign-on.
        match act(app, &flow, super::Purpose::Device, FlowAction::ResumeSession { session }, ip, None).await {
            Ok(step) => flow = step.flow,
            Err(e) if e.code == "UNEXPECTED_ERROR" => return Err(e),
            Err(_) => {}
        }
    }
    let mut start = DeviceStart { flow_id, confirm: None, notice: None };
    let Some(code) = code else {
        return Ok(start);
    };
    if !confirmation_may_be_bypassed(app, env, application_id).await? {
        start.confirm = Some(code);
        return Ok(start);
    }
    match take_code(app, &flow, &code, ip).await {
        Ok(true) => {}
        Ok(false) => start.confirm = Some(code),
        Err(e) if e.code == "UNEXPECTED_ERROR" => return Err(e),
        Err(e) if e.status == 429 => start.notice = Some(NOTICE_TOO_MANY),
        Err(_) => start.notice = Some(NOTICE_INVALID_CODE),
    }
    Ok(start)
}

/// Whether some application the code may belong to bypasses its confirmation.
async fn confirmation_may_be_bypassed(app: &App, env: &str, application_id: Option<&str>) -> Result<bool, FlowError> {
    if app.settings.bypass_activation_code_confirmation {
        return Ok(true);
    }
    let apps = app.applications(env).await?;
    Ok(apps.iter().any(|a| {
        a.enabled && a.bypass_activation_code_confirmation && application_id.is_none_or(|id| id == a.client_id)
    }))
}

/// Tries the code; attaches it when its application bypasses confirmation. `Ok(false)`: the code
/// is live but must be confirmed.
async fn take_code(app: &App, flow: &FlowRecord, code: &UserCode, ip: Option<IpAddr>) -> Result<bool, FlowError> {
    let tried = user_code::try_code(app, flow, code.canonical(), ip).await.map_err(|e| e.for_action(app, flow));
    let (entry, found) = tried.inspect_err(|e| audit_step(app, flow, Action::UserCodeChecked, Err(e)))?;
    let application = app.application(&flow.environment_id, &entry.client_id).await?;
    let bypass = app.settings.bypass_activation_code_confirmation
        || application.is_some_and(|a| a.bypass_activation_code_confirmation);
    if !bypass {
        return Ok(false);
    }
    // The start answers with a redirect: the grant is written on the flow, not held.
    let device = user_code::device_of(entry);
    let step = user_code::attach(app, &found, device).await.map_err(|e: Refusal| e.for_action(app, flow));
    audit_step(app, flow, Action::UserCodeChecked, step.as_ref().map(|s| &s.flow));
    let approved = super::consent::auto_approve(app, step?, None).await?;
    if approved.flow.consent.is_some() {
        audit_step(app, flow, Action::DeviceConsent, Ok(&approved.flow));
    }
    Ok(true)
}
