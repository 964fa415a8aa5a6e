//! The sign-on flow engine: the person's side of the device flow as a state machine that the
//! PingOne flow API (JSON) and the hosted pages drive alike.
//!
//! A flow stores facts (who signed on, which device grant the code led to, the consent); its
//! status is derived from them. Each action is one conditional store write on the facts it needs,
//! plus the lookups of the action itself (the user, the user code), so no action reads the flow
//! first except consent, which must know the grant it decides.
//!
//! A flow belongs to the browser that started it (`browser`): its id carries the MAC of that
//! browser's key, and every action and read checks it. Only starting a flow may apply a session;
//! reading a flow never changes it.

pub mod cache;
mod consent;
pub mod flow_id;
pub mod guard;
mod password;
mod sign_on;
pub mod start;
pub mod user_code;
pub mod verified;
pub mod view;

use std::net::IpAddr;

use http::HeaderValue;

use crate::app::App;
use crate::audit::{Action, Status};
use crate::browser::BrowserKey;
use crate::error::FlowError;
use crate::model::Application;
use crate::sessions::Session;
use crate::store::FlowRecord;
pub use flow_id::{new_flow_id, open_flow_id, Purpose, Started, FLOW_LIFETIME_MS};
pub use sign_on::flow_user;

/// PingOne flow `status` values of the device flow (PING-COMPAT §1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStatus {
    UsernamePasswordRequired,
    /// The password was right, but the user must change it before anything else (an admin set
    /// it with `forceChange: true`, PING-MGMT §8.1).
    MustChangePassword,
    DagUserCodeRequired,
    DagConsentRequired,
    /// An authorization request waits for the person's consent.
    ConsentRequired,
    Completed,
    Failed,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::UsernamePasswordRequired => "USERNAME_PASSWORD_REQUIRED",
            FlowStatus::MustChangePassword => "MUST_CHANGE_PASSWORD",
            FlowStatus::DagUserCodeRequired => "DAG_USER_CODE_REQUIRED",
            FlowStatus::DagConsentRequired => "DAG_CONSENT_REQUIRED",
            FlowStatus::ConsentRequired => "CONSENT_REQUIRED",
            FlowStatus::Completed => "COMPLETED",
            FlowStatus::Failed => "FAILED",
        }
    }

    /// The action (link name and media-type middle) this status allows.
    pub fn action(self) -> Option<&'static str> {
        match self {
            FlowStatus::UsernamePasswordRequired => Some(ACTION_LOGIN),
            FlowStatus::MustChangePassword => Some(ACTION_PASSWORD_RESET),
            FlowStatus::DagUserCodeRequired => Some(ACTION_USER_CODE),
            FlowStatus::DagConsentRequired => Some(ACTION_CONSENT),
            FlowStatus::ConsentRequired => Some(ACTION_AUTHORIZE_CONSENT),
            FlowStatus::Completed | FlowStatus::Failed => None,
        }
    }
}

pub const ACTION_LOGIN: &str = "usernamePassword.check";
/// Change the password the flow found must be changed (`{"currentPassword", "newPassword"}`,
/// PING-COMPAT §1.6).
pub const ACTION_PASSWORD_RESET: &str = "password.reset";
pub const ACTION_USER_CODE: &str = "deviceAuthGrant.userCode.verify";
pub const ACTION_CONSENT: &str = "deviceAuthGrant.consent";
/// Consent to an authorization request (`{"accept": bool}`, like the device consent).
pub const ACTION_AUTHORIZE_CONSENT: &str = "consent";

/// The status a flow's facts put it in (PingOne's order: login, password change, code, consent).
pub fn status(flow: &FlowRecord) -> FlowStatus {
    if flow.password_change_pending() {
        return FlowStatus::MustChangePassword;
    }
    if flow.consent.is_none() && flow.consented() {
        return FlowStatus::Completed;
    }
    match (flow.consent, &flow.user, &flow.device) {
        (Some(true), _, _) => FlowStatus::Completed,
        (Some(false), _, _) => FlowStatus::Failed,
        (None, None, _) => FlowStatus::UsernamePasswordRequired,
        (None, Some(_), _) if flow.authorize.is_some() => FlowStatus::ConsentRequired,
        (None, Some(_), None) => FlowStatus::DagUserCodeRequired,
        (None, Some(_), Some(_)) => FlowStatus::DagConsentRequired,
    }
}

/// What the person does next.
pub enum FlowAction {
    UsernamePasswordCheck {
        username: String,
        password: String,
    },
    /// Sign on with an existing session (the `ST` cookie) instead of a password: only when the
    /// flow starts (`start`).
    ResumeSession {
        session: Session,
    },
    /// Change the password the sign-on found must be changed.
    PasswordReset {
        current_password: String,
        new_password: String,
    },
    UserCodeVerify {
        user_code: String,
        /// Whether the browser may hold the grant a live code leads to until consent
        /// (`verified`) rather than the flow storing it now.
        hold: bool,
    },
    Consent {
        accept: bool,
    },
}

/// Shows what an action is, never a password.
impl std::fmt::Debug for FlowAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowAction::UsernamePasswordCheck { username, .. } => {
                f.debug_struct("UsernamePasswordCheck").field("username", username).finish_non_exhaustive()
            }
            FlowAction::ResumeSession { session } => {
                f.debug_struct("ResumeSession").field("sid", &session.sid).finish()
            }
            FlowAction::PasswordReset { .. } => f.debug_struct("PasswordReset").finish_non_exhaustive(),
            FlowAction::UserCodeVerify { user_code, .. } => {
                f.debug_struct("UserCodeVerify").field("user_code", user_code).finish()
            }
            FlowAction::Consent { accept } => f.debug_struct("Consent").field("accept", accept).finish(),
        }
    }
}

/// The outcome of an action: the flow as it now stands, a new session when one began, and the
/// code it verified for the browser to hold (`verified`).
pub struct FlowStep {
    pub flow: FlowRecord,
    pub session: Option<Session>,
    pub verified: Option<verified::Verified>,
}

impl FlowStep {
    /// A step that leaves the flow as stored and hands the browser nothing.
    fn stored(flow: FlowRecord) -> Self {
        Self { flow, session: None, verified: None }
    }

    /// The cookies the answer sets: the new session's, the verified code's.
    pub fn cookies(&self, app: &App) -> Vec<HeaderValue> {
        let session = self.session.as_ref().map(|s| s.set_cookie(app, &self.flow.environment_id));
        let verified = self.verified.as_ref().and_then(|v| verified::set_cookie(app, &self.flow, v));
        session.into_iter().chain(verified).filter_map(|c| HeaderValue::from_str(&c).ok()).collect()
    }
}

/// How a flow id stands for the browser presenting it.
pub enum Opened {
    /// Not a live flow of this environment.
    Unknown,
    /// A flow another browser started.
    Foreign(Box<Started>),
    /// This browser's flow, as it started.
    Own(Box<Started>),
}

/// Opens a flow id for `browser` without a store request.
pub fn open(app: &App, environment_id: &str, flow_id: &str, browser: &BrowserKey) -> Opened {
    match open_flow_id(app, environment_id, flow_id) {
        None => Opened::Unknown,
        Some(mut started) if started.belongs_to(app, browser) => {
            started.verified = verified::held(app, browser, &started.flow);
            Opened::Own(Box::new(started))
        }
        Some(started) => Opened::Foreign(Box::new(started)),
    }
}

/// This browser's flow as started: `NOT_FOUND` for unknown ids, `ACCESS_FAILED` for another
/// browser's flow.
pub fn own(app: &App, environment_id: &str, flow_id: &str, browser: &BrowserKey) -> Result<Started, FlowError> {
    match open(app, environment_id, flow_id, browser) {
        Opened::Unknown => Err(FlowError::not_found()),
        Opened::Foreign(_) => Err(FlowError::not_your_flow()),
        Opened::Own(started) => Ok(*started),
    }
}

/// The flow as it stands (stored, or as started if nothing stored it yet), for the browser that
/// started it. One store read.
pub async fn load(
    app: &App,
    environment_id: &str,
    flow_id: &str,
    browser: &BrowserKey,
) -> Result<FlowRecord, FlowError> {
    let started = own(app, environment_id, flow_id, browser)?;
    current(app, &started).await
}

/// The flow as it stands now; `NOT_FOUND` once it has expired. A stored flow is remembered
/// (`cache`).
pub async fn current(app: &App, started: &Started) -> Result<FlowRecord, FlowError> {
    let stored = app.store.get_flow(&started.flow.flow_id).await?;
    if let Some(flow) = &stored {
        // The next step on this instance (a sign-on, a consent) starts from it.
        app.flows.remember(flow);
    }
    let flow = stored.unwrap_or_else(|| started.flow.clone());
    if flow.expires_ms <= app.clock.now_ms() || flow.environment_id != started.flow.environment_id {
        return Err(FlowError::not_found());
    }
    Ok(verified::overlay(flow, started.verified.as_ref()))
}

/// The application a flow is for: the one it was started for, else the one its code belongs to.
pub async fn application_of(app: &App, flow: &FlowRecord) -> Result<Option<Application>, FlowError> {
    let id = flow
        .authorize
        .as_ref()
        .map(|a| a.client_id.as_str())
        .or(flow.device.as_ref().map(|d| d.client_id.as_str()))
        .or(flow.application_id.as_deref());
    match id {
        Some(id) => Ok(app.application(&flow.environment_id, id).await?),
        None => Ok(None),
    }
}

/// Performs `action` on the flow of `browser`, a client at `client_ip`.
pub async fn perform(
    app: &App,
    environment_id: &str,
    flow_id: &str,
    browser: &BrowserKey,
    action: FlowAction,
    client_ip: Option<IpAddr>,
) -> Result<FlowStep, FlowError> {
    let started = own(app, environment_id, flow_id, browser)?;
    act(app, &started.flow, started.purpose, action, client_ip, started.verified.as_ref()).await
}

/// Performs `action` on a flow known to be the caller's (just started, or checked by `perform`),
/// whose browser holds `verified`.
async fn act(
    app: &App,
    started: &FlowRecord,
    purpose: Purpose,
    action: FlowAction,
    ip: Option<IpAddr>,
    verified: Option<&verified::Verified>,
) -> Result<FlowStep, FlowError> {
    let audited = match &action {
        FlowAction::UsernamePasswordCheck { .. } => Some(Action::PasswordCheck),
        FlowAction::ResumeSession { .. } => None,
        FlowAction::PasswordReset { .. } => Some(Action::PasswordReset),
        FlowAction::UserCodeVerify { .. } => Some(Action::UserCodeChecked),
        FlowAction::Consent { .. } if purpose == Purpose::Authorization => Some(Action::AuthorizationConsent),
        FlowAction::Consent { .. } => Some(Action::DeviceConsent),
    };
    let step = match action {
        FlowAction::UsernamePasswordCheck { username, password } => {
            sign_on::with_password(app, started, &username, &password, ip).await
        }
        FlowAction::ResumeSession { session } => sign_on::with_session(app, started, session).await,
        FlowAction::PasswordReset { current_password, new_password } => {
            password::reset(app, started, &current_password, &new_password, ip).await
        }
        FlowAction::UserCodeVerify { user_code, hold } => {
            user_code::verify(app, started, &user_code, ip, verified, hold).await
        }
        FlowAction::Consent { accept } => consent::decide(app, started, accept, verified).await,
    }
    .map(|step| {
        // The cache keeps the flow as stored; the answer shows the code the browser holds.
        app.flows.remember(&step.flow);
        let flow = verified::overlay(step.flow, step.verified.as_ref().or(verified));
        FlowStep { flow, ..step }
    })
    .map_err(|e| e.for_action(app, started));
    if let Some(action) = audited {
        audit_step(app, started, action, step.as_ref().map(|s| &s.flow));
    }
    let step = step?;
    let decided = step.flow.consent.is_some();
    let held = step.verified.clone().or(verified.cloned());
    let step = consent::auto_approve(app, step, held.as_ref()).await?;
    if !decided && step.flow.consent.is_some() {
        let action = if step.flow.authorize.is_some() { Action::AuthorizationConsent } else { Action::DeviceConsent };
        audit_step(app, started, action, Ok(&step.flow));
        app.flows.remember(&step.flow);
    }
    Ok(step)
}

/// The audit event of a flow action's outcome: who, for which client and grant, and how it
/// ended (the error `code` on failure: `INVALID_CREDENTIALS`, `PASSWORD_LOCKED_OUT`, ...).
fn audit_step(app: &App, started: &FlowRecord, action: Action, outcome: Result<&FlowRecord, &FlowError>) {
    let env = &started.environment_id;
    let flow = outcome.unwrap_or(started);
    let description = match (outcome, flow.consent) {
        (Err(e), _) => match e.details.first() {
            Some(detail) => format!("{}: {}", detail.code, detail.message),
            None => format!("{}: {}", e.code, e.message),
        },
        (Ok(_), Some(true))
            if !matches!(action, Action::PasswordCheck | Action::PasswordReset | Action::UserCodeChecked) =>
        {
            "Approved.".into()
        }
        (Ok(_), Some(false)) => "Denied.".into(),
        (Ok(_), _) => "Succeeded.".into(),
    };
    let status = if outcome.is_ok() { Status::Success } else { Status::Failed };
    let mut event = app.audit(env, action, status, &description).resource("FLOW", &flow.flow_id);
    let client =
        flow.authorize.as_ref().map(|a| a.client_id.as_str()).or(flow.device.as_ref().map(|d| d.client_id.as_str()));
    if let Some(client) = client.or(flow.application_id.as_deref()) {
        event = event.client(client);
    }
    if let Some(user) = &flow.user {
        event = event.user(&user.id);
    }
    if let Some(device) = &flow.device {
        event = event.resource("GRANT", &device.grant_id);
    }
    event.emit();
}

/// Why an action did not apply; turned into a `FlowError` knowing the flow.
enum Refusal {
    Error(FlowError),
    /// The flow is not in a state that allows the action (it may also be gone or expired).
    WrongState {
        action: &'static str,
        current: Option<Box<FlowRecord>>,
    },
}

impl From<FlowError> for Refusal {
    fn from(e: FlowError) -> Self {
        Refusal::Error(e)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Refusal::Error(e.into())
    }
}

impl Refusal {
    fn for_action(self, app: &App, started: &FlowRecord) -> FlowError {
        match self {
            Refusal::Error(e) => e,
            Refusal::WrongState { action, current } => {
                let now = app.clock.now_ms();
                let flow = match current {
                    Some(f) => *f,
                    // Never stored: the flow is as it started.
                    None => started.clone(),
                };
                if flow.expires_ms <= now {
                    return FlowError::not_found();
                }
                FlowError::invalid_request(format!(
                    "The action {action} is not allowed while the flow status is {}.",
                    status(&flow).as_str()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FlowDevice, FlowUser};

    fn flow() -> FlowRecord {
        FlowRecord::started("f", "e", None, 0, 1)
    }

    #[test]
    fn status_follows_the_facts() {
        let user = FlowUser {
            id: "u".into(),
            username: "demo".into(),
            given_name: None,
            family_name: None,
            email: None,
            session_id: "s".into(),
            auth_time: 0,
            must_change_password: false,
        };
        let device = FlowDevice {
            grant_id: "g".into(),
            client_id: "c".into(),
            scopes: vec![],
            requested_ms: 0,
            requester: Default::default(),
        };
        let mut f = flow();
        assert_eq!(status(&f), FlowStatus::UsernamePasswordRequired);
        f.user = Some(FlowUser { must_change_password: true, ..user.clone() });
        assert_eq!(status(&f), FlowStatus::MustChangePassword);
        assert_eq!(FlowStatus::MustChangePassword.action(), Some("password.reset"));
        f.user = Some(user);
        assert_eq!(status(&f), FlowStatus::DagUserCodeRequired);
        f.device = Some(device);
        assert_eq!(status(&f), FlowStatus::DagConsentRequired);
        assert_eq!(status(&FlowRecord { consent: Some(true), ..f.clone() }), FlowStatus::Completed);
        assert_eq!(status(&FlowRecord { consent: Some(false), ..f }), FlowStatus::Failed);
        assert_eq!(FlowStatus::DagUserCodeRequired.action(), Some("deviceAuthGrant.userCode.verify"));
    }
}
