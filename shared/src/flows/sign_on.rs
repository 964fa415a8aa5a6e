//! Signing a person on to a flow: with a password (throttled and locked per account and network,
//! RFC 6749 §10.10), or, when a flow starts, with the browser's live session.

use std::net::IpAddr;

use super::guard::{self, TIERS};
use super::{FlowStep, Refusal, ACTION_LOGIN, FLOW_LIFETIME_MS};
use crate::app::App;
use crate::error::FlowError;
use crate::model::User;
use crate::passwords::check_password;
use crate::sessions::{Session, SESSION_LIFETIME_S};
use crate::store::{Counted, FlowRecord, FlowUser, FlowWrite};

fn invalid_credentials() -> FlowError {
    FlowError::invalid_data(
        "INVALID_CREDENTIALS",
        Some("password"),
        "The provided username and password combination is invalid.",
    )
}

/// Signs on with username and password. Every attempt first reserves a failure on the sign-on
/// counters (clean tier, else dirty); a right password takes the reservation back. Unknown,
/// disabled and wrong-password users get the same answer after the same work.
pub(super) async fn with_password(
    app: &App,
    started: &FlowRecord,
    username: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    if started.expires_ms <= now {
        // Never stored flows expire with their start; a stored one has moved past sign-on.
        return Err(Refusal::WrongState { action: ACTION_LOGIN, current: None });
    }
    let env = &started.environment_id;
    let user = app.store.find_user(env, username).await?;
    let now_s = now.div_euclid(1000);
    let mut reserved = None;
    for tier in TIERS {
        let counters = guard::sign_on_counters(app, env, username, ip, now_s, tier);
        match app.store.reserve(&counters.counters).await? {
            Counted::Counted => {
                reserved = Some(counters);
                break;
            }
            Counted::Refused(refused) if tier == guard::Tier::Dirty => {
                tracing::info!(environment = %env, "sign-on refused by the password limits");
                return Err(guard::sign_on_refusal(&counters, &refused, now_s).into());
            }
            Counted::Refused(_) => {}
        }
    }
    let Some(reserved) = reserved else {
        return Err(FlowError::unavailable().into());
    };
    let matches = check_password(password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    let user = match user {
        Some(u) if matches && u.enabled => u,
        _ => {
            tracing::info!(environment = %env, "sign-on failed: wrong credentials");
            return Err(invalid_credentials().into());
        }
    };
    // A new session id at every sign-on: no session fixation.
    let session = Session {
        sid: uuid::Builder::from_random_bytes(crate::clock::random_bytes::<16>(&*app.random)).into_uuid().to_string(),
        sub: user.id.clone(),
        username: user.username.clone(),
        auth_time: now_s,
        exp: now_s + SESSION_LIFETIME_S,
    };
    let bound = bind_user(app, started, user, &session).await;
    // The right password was no failure, whatever became of the flow.
    if let Err(err) = app.store.release(&reserved.counters).await {
        tracing::warn!(error = %err, "a sign-on reservation could not be taken back");
    }
    Ok(FlowStep { flow: bound?, session: Some(session) })
}

/// Signs on with a live session: the user must still exist and be enabled, and the session must
/// not have been ended.
pub(super) async fn with_session(app: &App, started: &FlowRecord, session: Session) -> Result<FlowStep, Refusal> {
    if started.expires_ms <= app.clock.now_ms() {
        return Err(Refusal::WrongState { action: ACTION_LOGIN, current: None });
    }
    let user = app.store.session_user(&started.environment_id, &session.sub, &session.sid).await?;
    let Some(user) = user.filter(|u| u.enabled && u.id == session.sub) else {
        return Err(invalid_credentials().into());
    };
    let flow = bind_user(app, started, user, &session).await?;
    Ok(FlowStep { flow, session: None })
}

/// The person of a sign-on as a flow remembers them.
pub fn flow_user(user: User, session: &Session) -> FlowUser {
    FlowUser {
        id: user.id,
        username: user.username,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
        session_id: session.sid.clone(),
        auth_time: session.auth_time,
    }
}

async fn bind_user(app: &App, started: &FlowRecord, user: User, session: &Session) -> Result<FlowRecord, Refusal> {
    let now = app.clock.now_ms();
    let flow_user = flow_user(user, session);
    match app.store.sign_on_flow(started, &flow_user, now, now + FLOW_LIFETIME_MS).await? {
        FlowWrite::Written(flow) => Ok(flow),
        FlowWrite::Conflict(current) => {
            Err(Refusal::WrongState { action: ACTION_LOGIN, current: current.map(Box::new) })
        }
    }
}
