//! PingOne's `MUST_CHANGE_PASSWORD` step (PING-COMPAT §1.6): the person signed on with a password
//! an admin set with `forceChange: true` (PING-MGMT §8.1), and changes it with `password.reset`
//! (`{"currentPassword", "newPassword"}`) before anything else proceeds.
//!
//! The current password is checked under the sign-on guessing limits (`guard`), so the step is no
//! way around them. The new one must meet the password policy (`passwords::policy_failures`) and
//! differ from the current one. The user is written first (new hash, no change required any more,
//! revision + 1, conditional on the revision read), then the flow moves on in one conditional write
//! (`FlowStore::change_password_flow`), and only then does the session begin: the `ST` cookie and
//! the rest of the flow follow as after any sign-on.

use std::net::IpAddr;

use http::StatusCode;

use super::sign_on::{flow_user, new_session, release_attempt, reserve_attempt};
use super::{FlowStep, Refusal, ACTION_PASSWORD_RESET, FLOW_LIFETIME_MS};
use crate::app::App;
use crate::error::FlowError;
use crate::model::User;
use crate::passwords::{check_password, hash_password_off_workers, policy_failures};
use crate::store::{Applied, Expect, FlowRecord, FlowWrite, Kind, Record, RecordKey};

/// The answer to a wrong current password: PingOne's `INVALID_CREDENTIALS`, as at sign-on.
fn wrong_current_password() -> FlowError {
    FlowError::invalid_data("INVALID_CREDENTIALS", Some("currentPassword"), "The current password is not correct.")
}

/// The answer to a new password the policy refuses: every unmet rule, in one message.
fn weak_password(failures: &[String]) -> FlowError {
    FlowError::invalid_data(
        "INVALID_VALUE",
        Some("newPassword"),
        format!("The new password does not meet the password policy. {}", failures.join(" ")),
    )
}

/// The user record changed between its read and its write (an admin, or another change).
fn account_changed() -> FlowError {
    FlowError {
        status: StatusCode::BAD_REQUEST,
        code: "REQUEST_FAILED",
        message: "The account was changed while the password was being changed. Try again.".into(),
        details: Vec::new(),
    }
}

fn wrong_state(current: Option<FlowRecord>) -> Refusal {
    Refusal::WrongState { action: ACTION_PASSWORD_RESET, current: current.map(Box::new) }
}

/// `password.reset` on a flow pending a password change.
pub(super) async fn reset(
    app: &App,
    started: &FlowRecord,
    current_password: &str,
    new_password: &str,
    ip: Option<IpAddr>,
) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    let flow = match app.store.get_flow(&started.flow_id).await? {
        Some(f) if f.expires_ms > now && f.password_change_pending() => f,
        other => return Err(wrong_state(other)),
    };
    let Some(pending) = &flow.user else {
        return Err(wrong_state(Some(flow)));
    };
    // What the request alone shows wrong costs neither a guess nor an argon2 check.
    let failures = policy_failures(new_password);
    if !failures.is_empty() {
        return Err(weak_password(&failures).into());
    }
    if new_password == current_password {
        let message = "The new password must differ from the current password.";
        return Err(FlowError::invalid_data("INVALID_VALUE", Some("newPassword"), message).into());
    }
    let env = &flow.environment_id;
    let user = match app.store.get_record(&RecordKey::new(env, Kind::User, &pending.id)).await? {
        Some(Record::User(u)) => Some(u),
        _ => None,
    };
    let now_s = now.div_euclid(1000);
    let reserved = reserve_attempt(app, env, &pending.username, ip, now_s).await?;
    let matches = check_password(current_password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    let user = match user {
        Some(u) if matches && u.enabled => u,
        _ => {
            tracing::info!(environment = %env, "password change refused: wrong current password");
            return Err(wrong_current_password().into());
        }
    };
    release_attempt(app, &reserved).await;
    let updated = store_new_password(app, user, new_password, now).await?;
    let session = new_session(app, &updated, now_s);
    let signed_on = flow_user(updated, &session);
    match app.store.change_password_flow(&flow.flow_id, &signed_on, now, now + FLOW_LIFETIME_MS).await? {
        FlowWrite::Written(flow) => {
            tracing::info!(environment = %env, "password changed in a sign-on flow");
            Ok(FlowStep { flow, session: Some(session), verified: None })
        }
        FlowWrite::Conflict(current) => Err(wrong_state(current)),
    }
}

/// Writes the user with the new password's hash, the change no longer required, if nobody
/// changed the user since it was read (its revision).
async fn store_new_password(app: &App, old: User, new_password: &str, now_ms: i64) -> Result<User, Refusal> {
    let Some(hash) = hash_password_off_workers(new_password).await else {
        return Err(FlowError::unavailable().into());
    };
    let updated = User {
        password_hash: Some(hash),
        must_change_password: false,
        password_changed_ms: Some(now_ms),
        updated_ms: now_ms,
        revision: old.revision + 1,
        ..old.clone()
    };
    let writes =
        Record::User(updated.clone()).replacing(Some(&Record::User(old.clone())), Expect::Revision(old.revision));
    match app.store.apply(&writes).await? {
        Applied::Applied => Ok(updated),
        Applied::Conflict(_) => Err(account_changed().into()),
    }
}
