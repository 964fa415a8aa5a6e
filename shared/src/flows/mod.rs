//! The sign-on flow engine: the person's side of the device flow as a state machine that the
//! PingOne flow API (JSON) and the hosted pages drive alike.
//!
//! A flow stores facts (who signed on, which device grant the code led to, the consent); its
//! status is derived from them. Each action is one conditional store write on the facts it needs,
//! plus the lookups of the action itself (the user, the user code), so no action reads the flow
//! first except consent, which must know the grant it decides.

pub mod flow_id;
pub mod guard;
pub mod view;

use std::net::IpAddr;

use crate::app::App;
use crate::codes::UserCode;
use crate::error::FlowError;
use crate::hashing::Purpose;
use crate::model::{Application, User};
use crate::passwords::{burn_equivalent_time, verify_password};
use crate::sessions::{Session, SESSION_LIFETIME_S};
use crate::store::{ConsentWrite, Decision, FlowDevice, FlowRecord, FlowUser, FlowWrite};
pub use flow_id::{new_flow_id, open_flow_id, FLOW_LIFETIME_MS};

/// PingOne flow `status` values of the device flow (PING-COMPAT §1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStatus {
    UsernamePasswordRequired,
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
            FlowStatus::DagUserCodeRequired => Some(ACTION_USER_CODE),
            FlowStatus::DagConsentRequired => Some(ACTION_CONSENT),
            FlowStatus::ConsentRequired => Some(ACTION_AUTHORIZE_CONSENT),
            FlowStatus::Completed | FlowStatus::Failed => None,
        }
    }
}

pub const ACTION_LOGIN: &str = "usernamePassword.check";
pub const ACTION_USER_CODE: &str = "deviceAuthGrant.userCode.verify";
pub const ACTION_CONSENT: &str = "deviceAuthGrant.consent";
/// Consent to an authorization request (`{"accept": bool}`, like the device consent).
pub const ACTION_AUTHORIZE_CONSENT: &str = "consent";

/// The status a flow's facts put it in (PingOne's order: login, code, consent).
pub fn status(flow: &FlowRecord) -> FlowStatus {
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
#[derive(Debug)]
pub enum FlowAction {
    UsernamePasswordCheck {
        username: String,
        password: String,
    },
    /// Sign on with an existing session (the `ST` cookie) instead of a password.
    ResumeSession {
        session: Session,
    },
    UserCodeVerify {
        user_code: String,
    },
    Consent {
        accept: bool,
    },
}

/// The outcome of an action: the flow as it now stands, and a new session when one began.
pub struct FlowStep {
    pub flow: FlowRecord,
    pub session: Option<Session>,
}

/// The stored flow, or the flow as started if nothing stored it yet. One store read.
pub async fn load(app: &App, environment_id: &str, flow_id: &str) -> Result<FlowRecord, FlowError> {
    let started = open_flow_id(app, environment_id, flow_id).ok_or_else(FlowError::not_found)?;
    let flow = app.store.get_flow(flow_id).await?.unwrap_or(started);
    if flow.expires_ms <= app.clock.now_ms() || flow.environment_id != environment_id {
        return Err(FlowError::not_found());
    }
    Ok(flow)
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

/// Performs `action` on the flow for a client at `client_ip`.
pub async fn perform(
    app: &App,
    environment_id: &str,
    flow_id: &str,
    action: FlowAction,
    client_ip: Option<IpAddr>,
) -> Result<FlowStep, FlowError> {
    let started = open_flow_id(app, environment_id, flow_id).ok_or_else(FlowError::not_found)?;
    let step = match action {
        FlowAction::UsernamePasswordCheck { username, password } => sign_on(app, &started, &username, &password).await,
        FlowAction::ResumeSession { session } => resume_session(app, &started, session).await,
        FlowAction::UserCodeVerify { user_code } => verify_user_code(app, &started, &user_code, client_ip).await,
        FlowAction::Consent { accept } => consent(app, &started, accept).await,
    }
    .map_err(|e| e.for_action(app, &started))?;
    auto_approve(app, step).await
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

fn invalid_credentials() -> FlowError {
    FlowError::invalid_data(
        "INVALID_CREDENTIALS",
        Some("password"),
        "The provided username and password combination is invalid.",
    )
}

async fn sign_on(app: &App, started: &FlowRecord, username: &str, password: &str) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    if started.expires_ms <= now {
        // Never stored flows expire with their start; a stored one has moved past sign-on.
        return Err(Refusal::WrongState { action: ACTION_LOGIN, current: None });
    }
    let user = app.store.find_user(&started.environment_id, username).await?;
    let user = match user {
        Some(u) if u.enabled && verify_password(password, &u.password_hash) => u,
        Some(_) => return Err(invalid_credentials().into()),
        None => {
            burn_equivalent_time(password);
            return Err(invalid_credentials().into());
        }
    };
    // A new session id at every sign-on: no session fixation.
    let session = Session {
        sid: uuid::Builder::from_random_bytes(crate::clock::random_bytes::<16>(&*app.random)).into_uuid().to_string(),
        sub: user.id.clone(),
        username: user.username.clone(),
        auth_time: now.div_euclid(1000),
        exp: now.div_euclid(1000) + SESSION_LIFETIME_S,
    };
    let flow = bind_user(app, started, user, &session).await?;
    Ok(FlowStep { flow, session: Some(session) })
}

/// Signs on with a live session: the user must still exist and be enabled.
async fn resume_session(app: &App, started: &FlowRecord, session: Session) -> Result<FlowStep, Refusal> {
    if started.expires_ms <= app.clock.now_ms() {
        return Err(Refusal::WrongState { action: ACTION_LOGIN, current: None });
    }
    let user = app.store.find_user(&started.environment_id, &session.username).await?;
    let Some(user) = user.filter(|u| u.enabled && u.id == session.sub) else {
        return Err(invalid_credentials().into());
    };
    let flow = bind_user(app, started, user, &session).await?;
    Ok(FlowStep { flow, session: None })
}

async fn bind_user(app: &App, started: &FlowRecord, user: User, session: &Session) -> Result<FlowRecord, Refusal> {
    let now = app.clock.now_ms();
    let flow_user = FlowUser {
        id: user.id,
        username: user.username,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
        session_id: session.sid.clone(),
        auth_time: session.auth_time,
    };
    match app.store.sign_on_flow(started, &flow_user, now, now + FLOW_LIFETIME_MS).await? {
        FlowWrite::Written(flow) => Ok(flow),
        FlowWrite::Conflict(current) => {
            Err(Refusal::WrongState { action: ACTION_LOGIN, current: current.map(Box::new) })
        }
    }
}

fn bad_user_code(message: &str) -> FlowError {
    FlowError::invalid_data("INVALID_VALUE", Some("userCode"), message)
}

async fn verify_user_code(
    app: &App,
    started: &FlowRecord,
    typed: &str,
    ip: Option<IpAddr>,
) -> Result<FlowStep, Refusal> {
    const UNKNOWN: &str = "The code is not valid. Check the code shown on your device and try again.";
    let now = app.clock.now_ms();
    let now_s = now.div_euclid(1000);
    let env = &started.environment_id;
    let keys = guard::limiter_keys(env, ip, now_s);
    // A malformed code hashes to nothing stored: it is looked up and counted like any wrong code.
    let canonical = UserCode::parse(typed).map(|c| c.canonical().to_owned()).unwrap_or_else(|| typed.to_owned());
    let hash = app.hasher.digest(Purpose::UserCode, env, &canonical);
    let attempt = app.store.code_attempt(env, &hash, &started.flow_id, &keys).await?;
    let flow = attempt.flow.clone().unwrap_or_else(|| started.clone());
    if flow.expires_ms <= now {
        return Err(FlowError::not_found().into());
    }
    if flow.device.is_some() || flow.consent.is_some() || flow.authorize.is_some() {
        return Err(Refusal::WrongState { action: ACTION_USER_CODE, current: Some(Box::new(flow)) });
    }
    guard::check(flow.code_failures, attempt.ip_failures, attempt.environment_failures, &keys, now_s)?;
    let entry = attempt.entry.filter(|e| started.application_id.as_ref().is_none_or(|id| *id == e.client_id));
    let Some(entry) = entry else {
        app.store.record_code_failure(&flow, &keys).await?;
        return Err(bad_user_code(UNKNOWN).into());
    };
    if entry.expires_at <= now_s {
        return Err(bad_user_code("The code has expired. Start again on your device to get a new code.").into());
    }
    let device = FlowDevice {
        grant_id: entry.grant_id,
        client_id: entry.client_id,
        scopes: entry.scopes,
        requested_ms: entry.created_ms,
        requester: entry.requester,
    };
    match app.store.verify_flow_device(&flow, &device, now, now + FLOW_LIFETIME_MS).await? {
        FlowWrite::Written(flow) => Ok(FlowStep { flow, session: None }),
        FlowWrite::Conflict(current) => {
            Err(Refusal::WrongState { action: ACTION_USER_CODE, current: current.map(Box::new) })
        }
    }
}

/// Approves on the person's behalf when approval may be bypassed (PingFederate's "Bypass
/// Authorization Approval", globally or for the application) and they already granted these
/// scopes to this application. Costs store requests only where bypass is on.
async fn auto_approve(app: &App, step: FlowStep) -> Result<FlowStep, FlowError> {
    if let (Some(user), Some(request)) = (&step.flow.user, &step.flow.authorize) {
        // OpenID Connect: consent once; a remembered consent covering the scopes is enough.
        if status(&step.flow) != FlowStatus::ConsentRequired || request.force_consent {
            return Ok(step);
        }
        let granted = app.store.find_consent(&step.flow.environment_id, &user.id, &request.client_id).await?;
        if !request.scopes.iter().all(|s| granted.contains(s)) {
            return Ok(step);
        }
        let approved = consent(app, &step.flow, true).await.map_err(|e| e.for_action(app, &step.flow))?;
        return Ok(FlowStep { flow: approved.flow, session: step.session });
    }
    let (Some(user), Some(device)) = (&step.flow.user, &step.flow.device) else {
        return Ok(step);
    };
    if status(&step.flow) != FlowStatus::DagConsentRequired {
        return Ok(step);
    }
    let application = app.application(&step.flow.environment_id, &device.client_id).await?;
    let bypass = app.settings.bypass_authorization_approval || application.is_some_and(|a| a.bypass_approval_page);
    if !bypass {
        return Ok(step);
    }
    let granted = app.store.find_consent(&step.flow.environment_id, &user.id, &device.client_id).await?;
    if !device.scopes.iter().all(|s| granted.contains(s)) {
        return Ok(step);
    }
    let approved = consent(app, &step.flow, true).await.map_err(|e| e.for_action(app, &step.flow))?;
    Ok(FlowStep { flow: approved.flow, session: step.session })
}

async fn consent(app: &App, started: &FlowRecord, accept: bool) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    let current = app.store.get_flow(&started.flow_id).await?;
    if let Some(flow) = current.as_ref().filter(|f| f.authorize.is_some()) {
        if flow.expires_ms <= now || status(flow) != FlowStatus::ConsentRequired {
            return Err(Refusal::WrongState {
                action: ACTION_AUTHORIZE_CONSENT,
                current: Some(Box::new(flow.clone())),
            });
        }
        return match app.store.consent_flow(flow, accept, now, now + FLOW_LIFETIME_MS).await? {
            FlowWrite::Written(flow) => Ok(FlowStep { flow, session: None }),
            FlowWrite::Conflict(current) => {
                Err(Refusal::WrongState { action: ACTION_AUTHORIZE_CONSENT, current: current.map(Box::new) })
            }
        };
    }
    let flow = match current {
        Some(f) if f.expires_ms > now && status(&f) == FlowStatus::DagConsentRequired => f,
        other => return Err(Refusal::WrongState { action: ACTION_CONSENT, current: other.map(Box::new) }),
    };
    let (Some(user), Some(_)) = (&flow.user, &flow.device) else {
        return Err(Refusal::WrongState { action: ACTION_CONSENT, current: Some(Box::new(flow)) });
    };
    let decision = Decision { approved: accept, subject: user.subject(), decided_ms: now };
    let expires_ms = now + FLOW_LIFETIME_MS;
    match app.store.decide_flow_device(&flow, &decision, now, expires_ms).await? {
        ConsentWrite::Written => {
            Ok(FlowStep { flow: FlowRecord { consent: Some(accept), expires_ms, ..flow }, session: None })
        }
        ConsentWrite::FlowConflict => {
            let current = app.store.get_flow(&flow.flow_id).await?;
            Err(Refusal::WrongState { action: ACTION_CONSENT, current: current.map(Box::new) })
        }
        ConsentWrite::GrantClosed => {
            Err(bad_user_code("This device request has expired or was already answered. Start again on your device.")
                .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> FlowRecord {
        FlowRecord {
            flow_id: "f".into(),
            environment_id: "e".into(),
            application_id: None,
            created_ms: 0,
            expires_ms: 1,
            user: None,
            device: None,
            consent: None,
            code_failures: 0,
            authorize: None,
            resumed_ms: None,
        }
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
        f.user = Some(user);
        assert_eq!(status(&f), FlowStatus::DagUserCodeRequired);
        f.device = Some(device);
        assert_eq!(status(&f), FlowStatus::DagConsentRequired);
        assert_eq!(status(&FlowRecord { consent: Some(true), ..f.clone() }), FlowStatus::Completed);
        assert_eq!(status(&FlowRecord { consent: Some(false), ..f }), FlowStatus::Failed);
        assert_eq!(FlowStatus::DagUserCodeRequired.action(), Some("deviceAuthGrant.userCode.verify"));
    }
}
