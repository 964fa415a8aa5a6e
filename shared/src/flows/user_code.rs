//! Verifying a user code: one atomic try under the guessing limits (RFC 8628 §5.1), in the clean
//! tier first and else in the dirty one (`guard`). Nothing about a code is learnt without it.
//! Where the browser may hold a live code's grant until consent (`verified`: the hosted pages,
//! the flow API when configured), the try is the verification's only store request; otherwise
//! the grant is written on the flow.

use std::net::IpAddr;

use super::guard::{self, Tier, TIERS};
use super::verified::{self, Verified};
use super::{FlowStep, Refusal, ACTION_USER_CODE, FLOW_LIFETIME_MS};
use crate::app::App;
use crate::codes::UserCode;
use crate::error::FlowError;
use crate::hashing::Purpose;
use crate::store::{FlowDevice, FlowRecord, FlowWrite, UserCodeAttempt, UserCodeEntry, UserCodeOutcome};

pub const UNKNOWN_CODE: &str = "The code is not valid. Check the code shown on your device and try again.";

fn bad_user_code(message: &str) -> FlowError {
    FlowError::invalid_data("INVALID_VALUE", Some("userCode"), message)
}

/// Verifies a typed code on a flow whose browser holds `held` (a code verified before: the flow
/// then waits for consent and takes no other). With `hold`, the browser is handed the grant a
/// live code leads to; else it is written on the flow.
pub(super) async fn verify(
    app: &App,
    started: &FlowRecord,
    typed: &str,
    ip: Option<IpAddr>,
    held: Option<&Verified>,
    hold: bool,
) -> Result<FlowStep, Refusal> {
    if held.is_some() {
        let current = app.flows.recall(&started.flow_id, app.clock.now_ms());
        let current = match current {
            Some(flow) => flow,
            None => app.store.get_flow(&started.flow_id).await?.unwrap_or_else(|| started.clone()),
        };
        let shown = verified::overlay(current, held);
        if shown.device.is_some() {
            return Err(Refusal::WrongState { action: ACTION_USER_CODE, current: Some(Box::new(shown)) });
        }
    }
    let (entry, flow) = try_code(app, started, typed, ip).await?;
    let now = app.clock.now_ms();
    let held = Verified { device: device_of(entry), verified_ms: now };
    if hold && held.fits_a_cookie() {
        return Ok(FlowStep { flow, session: None, verified: Some(held) });
    }
    attach(app, &flow, held.device).await
}

/// Tries a typed code on the flow: the live code's entry and the flow as the try found it, or
/// the refusal (a wrong code counted).
pub(super) async fn try_code(
    app: &App,
    started: &FlowRecord,
    typed: &str,
    ip: Option<IpAddr>,
) -> Result<(UserCodeEntry, FlowRecord), Refusal> {
    let now = app.clock.now_ms();
    // The flow as this instance last answered it (the try is conditional on it), but never one
    // pending a password change, which another instance may have ended.
    let expected = app
        .flows
        .recall(&started.flow_id, now)
        .filter(|f| !f.password_change_pending())
        .unwrap_or_else(|| started.clone());
    let started = &expected;
    let now_s = now.div_euclid(1000);
    let env = &started.environment_id;
    // A malformed code hashes to nothing stored: it is tried and counted like any wrong code.
    let canonical = UserCode::parse(typed).map(|c| c.canonical().to_owned()).unwrap_or_else(|| typed.to_owned());
    let hash = app.hasher.digest(Purpose::UserCode, env, &canonical);
    let mut outcome = None;
    for tier in TIERS {
        let (flow_below, counters) = guard::user_code_counters(app, env, ip, now_s, tier);
        let attempt = UserCodeAttempt {
            fresh: started,
            user_code_hash: &hash,
            application_id: started.application_id.as_deref(),
            flow_below,
            counters: &counters.counters,
            now_ms: now,
        };
        match app.store.attempt_user_code(&attempt).await? {
            UserCodeOutcome::Refused { flow: Some(flow), .. } if !takes_codes(&flow, now) => {
                return Err(Refusal::WrongState { action: ACTION_USER_CODE, current: Some(flow) });
            }
            UserCodeOutcome::Refused { flow, counters: refused } if tier == Tier::Dirty => {
                tracing::info!(environment = %env, "user code refused by the guessing limits");
                return Err(match flow {
                    Some(_) => guard::flow_locked(),
                    None => guard::user_code_refusal(&counters, &refused, now_s),
                }
                .into());
            }
            UserCodeOutcome::Refused { .. } => {}
            decided => {
                outcome = Some(decided);
                break;
            }
        }
    }
    match outcome {
        // A dead code tells nothing about live ones: saying so costs no limit.
        Some(UserCodeOutcome::Found { entry, .. }) if entry.expires_at <= now_s => {
            Err(bad_user_code("The code has expired. Start again on your device to get a new code.").into())
        }
        Some(UserCodeOutcome::Found { entry, flow }) => Ok((entry, *flow)),
        Some(_) => {
            tracing::info!(environment = %env, "wrong user code");
            Err(bad_user_code(UNKNOWN_CODE).into())
        }
        None => Err(FlowError::unavailable().into()),
    }
}

/// The device grant a live code leads to, as a flow holds it.
pub(super) fn device_of(entry: UserCodeEntry) -> FlowDevice {
    FlowDevice {
        grant_id: entry.grant_id,
        client_id: entry.client_id,
        scopes: entry.scopes,
        requested_ms: entry.created_ms,
        requester: entry.requester,
    }
}

/// Records the device grant a live code leads to on the flow (a store write: when the code is
/// taken as the flow starts, or its grant is too large for the browser to hold).
pub(super) async fn attach(app: &App, started: &FlowRecord, device: FlowDevice) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    match app.store.verify_flow_device(started, &device, now, now + FLOW_LIFETIME_MS).await? {
        FlowWrite::Written(flow) => Ok(FlowStep::stored(flow)),
        FlowWrite::Conflict(current) => {
            Err(Refusal::WrongState { action: ACTION_USER_CODE, current: current.map(Box::new) })
        }
    }
}

/// Whether a stored flow is in a state to take a code (else a refusal is about the state, not
/// the limits).
fn takes_codes(flow: &FlowRecord, now_ms: i64) -> bool {
    flow.device.is_none()
        && flow.consent.is_none()
        && flow.authorize.is_none()
        && !flow.password_change_pending()
        && flow.expires_ms > now_ms
}
