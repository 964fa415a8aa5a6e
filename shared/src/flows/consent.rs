//! The person's decision on a flow, and the approvals given on their behalf (remembered
//! consent).

use super::verified::{overlay, Verified};
use super::{status, FlowStatus, FlowStep, Refusal, ACTION_AUTHORIZE_CONSENT, ACTION_CONSENT, FLOW_LIFETIME_MS};
use crate::app::App;
use crate::error::FlowError;
use crate::grants::device_code;
use crate::store::{ConsentWrite, Decision, FlowRecord, FlowWrite, Redemption};

/// Approves on the person's behalf when approval may be bypassed (PingFederate's "Bypass
/// Authorization Approval", globally or for the application) and they already granted these
/// scopes to this application. Costs store requests only where bypass is on. `verified`: the
/// code the browser holds for the flow.
pub(super) async fn auto_approve(
    app: &App,
    step: FlowStep,
    verified: Option<&Verified>,
) -> Result<FlowStep, FlowError> {
    if let (Some(user), Some(request)) = (&step.flow.user, &step.flow.authorize) {
        // OpenID Connect: consent once; a remembered consent covering the scopes is enough.
        if status(&step.flow) != FlowStatus::ConsentRequired || request.force_consent {
            return Ok(step);
        }
        let granted = app.store.find_consent(&step.flow.environment_id, &user.id, &request.client_id).await?;
        if !request.scopes.iter().all(|s| granted.contains(s)) {
            return Ok(step);
        }
        let approved = decide(app, &step.flow, true, None).await.map_err(|e| e.for_action(app, &step.flow))?;
        return Ok(FlowStep { flow: approved.flow, session: step.session, verified: None });
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
    let approved = decide(app, &step.flow, true, verified).await.map_err(|e| e.for_action(app, &step.flow))?;
    Ok(FlowStep { flow: approved.flow, session: step.session, verified: None })
}

/// Decides the flow; a device flow's grant may be the one the browser holds (`verified`), which
/// the decision writes on the flow.
pub(super) async fn decide(
    app: &App,
    started: &FlowRecord,
    accept: bool,
    verified: Option<&Verified>,
) -> Result<FlowStep, Refusal> {
    let now = app.clock.now_ms();
    // Both writes below are conditional on the state this step expects (`flows::cache`).
    let remembered = app.flows.recall(&started.flow_id, now).map(|f| overlay(f, verified)).filter(|f| {
        matches!(status(f), FlowStatus::ConsentRequired | FlowStatus::DagConsentRequired) && f.user.is_some()
    });
    let current = match remembered {
        Some(flow) => Some(flow),
        None => app.store.get_flow(&started.flow_id).await?.map(|f| overlay(f, verified)),
    };
    if let Some(flow) = current.as_ref().filter(|f| f.authorize.is_some()) {
        if flow.expires_ms <= now || status(flow) != FlowStatus::ConsentRequired {
            return Err(Refusal::WrongState {
                action: ACTION_AUTHORIZE_CONSENT,
                current: Some(Box::new(flow.clone())),
            });
        }
        return match app.store.consent_flow(flow, accept, now, now + FLOW_LIFETIME_MS).await? {
            FlowWrite::Written(flow) => Ok(FlowStep::stored(flow)),
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
    let redemption = redemption(app, &flow, now.div_euclid(1000)).await?;
    match app.store.decide_flow_device(&flow, &decision, now, expires_ms, &redemption).await? {
        ConsentWrite::Written => Ok(FlowStep::stored(FlowRecord { consent: Some(accept), expires_ms, ..flow })),
        ConsentWrite::FlowConflict => {
            let current = app.store.get_flow(&flow.flow_id).await?.map(|f| overlay(f, verified));
            Err(Refusal::WrongState { action: ACTION_CONSENT, current: current.map(Box::new) })
        }
        ConsentWrite::GrantClosed => Err(FlowError::invalid_data(
            "INVALID_VALUE",
            Some("userCode"),
            "This device request has expired or was already answered. Start again on your device.",
        )
        .into()),
    }
}

/// What approving the flow's grant prepares for its redemption, from the grant's application
/// (cached: no store request on a warm instance).
async fn redemption(app: &App, flow: &FlowRecord, now_s: i64) -> Result<Redemption, Refusal> {
    let client_id = flow.device.as_ref().map(|d| d.client_id.as_str()).unwrap_or_default();
    Ok(match app.application(&flow.environment_id, client_id).await? {
        Some(application) => device_code::redemption(&application, now_s),
        // The application is gone: nothing can redeem the grant, which dies with its codes.
        None => Redemption { keep_until: now_s, with_refresh_token: false },
    })
}
