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
use crate::store::{Counted, FlowRecord, FlowUser, FlowWrite, SignOnWrite};

fn invalid_credentials() -> FlowError {
    FlowError::invalid_data(
        "INVALID_CREDENTIALS",
        Some("password"),
        "The provided username and password combination is invalid.",
    )
}

/// Signs on with username and password, in two store requests: the user and the sign-on
/// counters in one read, then one write. A right password binds the user to the flow in the same
/// atomic step as a check that the counters of the attempt's tier (clean, else dirty) are below
/// their limits; a wrong one counts a failure on them, conditional on the same limits. So every
/// answer that says anything about the password was judged within the limits, however many
/// attempts run at once. An attempt the counters already refuse is answered without checking the
/// password (no argon2 work for a locked-out guesser). Unknown, disabled and wrong-password
/// users get the same answer after the same work.
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
    let now_s = now.div_euclid(1000);
    let tiers = TIERS.map(|tier| guard::sign_on_counters(app, env, username, ip, now_s, tier));
    // The tiers count on the same counters (only their limits differ).
    let lookup = app.store.sign_on_lookup(env, username, &tiers[0].counters).await?;
    let Some(first) = tiers.iter().position(|t| guard::holds(t, &lookup.counts)) else {
        return Err(refused(env, &tiers[1], &guard::at_limit(&tiers[1], &lookup.counts), now_s));
    };
    let matches = check_password(password, lookup.user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    let user = match lookup.user {
        Some(u) if matches && u.enabled => u,
        _ => {
            count_failure(app, env, &tiers[first..], now_s).await?;
            tracing::info!(environment = %env, "sign-on failed: wrong credentials");
            return Err(invalid_credentials().into());
        }
    };
    let session = new_session(app, &user, now_s);
    // A password an admin set with `forceChange`: the flow waits for the change, and the
    // session begins only with it (`password::reset`).
    let must_change = user.must_change_password;
    let flow_user = FlowUser { must_change_password: must_change, ..flow_user(user, &session) };
    let expected = app.flows.recall(&started.flow_id, now).unwrap_or_else(|| started.clone());
    for (i, tier) in tiers.iter().enumerate().skip(first) {
        let write = app.store.sign_on_flow_within(&expected, &flow_user, now, now + FLOW_LIFETIME_MS, &tier.counters);
        match write.await? {
            SignOnWrite::Written(flow) => {
                return Ok(FlowStep { flow, session: (!must_change).then_some(session), verified: None })
            }
            SignOnWrite::Conflict(current) => {
                return Err(Refusal::WrongState { action: ACTION_LOGIN, current: current.map(Box::new) });
            }
            SignOnWrite::Limited(limited) if i + 1 == tiers.len() => return Err(refused(env, tier, &limited, now_s)),
            SignOnWrite::Limited(_) => {}
        }
    }
    Err(FlowError::unavailable().into())
}

/// Counts a wrong password on the counters of the first tier (of `tiers`) whose limits hold;
/// the refusal when none does.
async fn count_failure(app: &App, env: &str, tiers: &[guard::Counters], now_s: i64) -> Result<(), Refusal> {
    for (i, tier) in tiers.iter().enumerate() {
        match app.store.reserve(&tier.counters).await? {
            Counted::Counted => return Ok(()),
            Counted::Refused(limited) if i + 1 == tiers.len() => return Err(refused(env, tier, &limited, now_s)),
            Counted::Refused(_) => {}
        }
    }
    Err(FlowError::unavailable().into())
}

fn refused(env: &str, counters: &guard::Counters, limited: &[usize], now_s: i64) -> Refusal {
    tracing::info!(environment = %env, "sign-on refused by the password limits");
    guard::sign_on_refusal(counters, limited, now_s).into()
}

/// Reserves a failure on the sign-on counters of `username` (its key: any case, known or not)
/// from `ip`, in the clean tier, else the dirty one; the refusal when both are at their limits.
/// The current password of `password.reset` pays this before it is checked.
pub(super) async fn reserve_attempt(
    app: &App,
    env: &str,
    username: &str,
    ip: Option<IpAddr>,
    now_s: i64,
) -> Result<guard::Counters, Refusal> {
    for tier in TIERS {
        let counters = guard::sign_on_counters(app, env, username, ip, now_s, tier);
        match app.store.reserve(&counters.counters).await? {
            Counted::Counted => return Ok(counters),
            Counted::Refused(refused) if tier == guard::Tier::Dirty => {
                tracing::info!(environment = %env, "sign-on refused by the password limits");
                return Err(guard::sign_on_refusal(&counters, &refused, now_s).into());
            }
            Counted::Refused(_) => {}
        }
    }
    Err(FlowError::unavailable().into())
}

/// Takes a reservation back: the right password was no failure, whatever became of the flow.
pub(super) async fn release_attempt(app: &App, reserved: &guard::Counters) {
    if let Err(err) = app.store.release(&reserved.counters).await {
        tracing::warn!(error = %err, "a sign-on reservation could not be taken back");
    }
}

/// A new session of `user` from `now_s`: a new session id at every sign-on, so no fixation.
pub(super) fn new_session(app: &App, user: &User, now_s: i64) -> Session {
    Session {
        sid: uuid::Builder::from_random_bytes(crate::clock::random_bytes::<16>(&*app.random)).into_uuid().to_string(),
        sub: user.id.clone(),
        username: user.username.clone(),
        auth_time: now_s,
        exp: now_s + SESSION_LIFETIME_S,
    }
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
    Ok(FlowStep::stored(flow))
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
        must_change_password: false,
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
