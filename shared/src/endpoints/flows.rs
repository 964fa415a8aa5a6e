//! `GET|POST /{envId}/flows/{flowId}`: PingOne's flow API (PING-COMPAT §1.5-1.6). The action is
//! named by the media type `application/vnd.pingidentity.<action>+json`. A flow answers only the
//! browser (or cookie-keeping client) that started it: the cookies its start set go along.

use http::header::SET_COOKIE;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::browser::BrowserKey;
use crate::context::Context;
use crate::error::{finish, FlowError};
use crate::flows::{
    self, view, FlowAction, ACTION_AUTHORIZE_CONSENT, ACTION_CONSENT, ACTION_LOGIN, ACTION_PASSWORD_RESET,
    ACTION_USER_CODE,
};
use crate::http::{json, no_store, Request, Response};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, FlowError> {
    let env = ctx.environment_id();
    let flow_id = ctx.params.flow_id().ok_or_else(FlowError::not_found)?;
    let browser = BrowserKey::of(ctx.app, req);
    if req.method == Method::GET || req.method == Method::HEAD {
        let flow = flows::load(ctx.app, env, flow_id, &browser).await?;
        let application = flows::application_of(ctx.app, &flow).await?;
        return Ok(no_store(json(StatusCode::OK, &view::flow_json(ctx.app, &flow, application.as_ref()))));
    }
    flows::own(ctx.app, env, flow_id, &browser)?;
    let action = match parse_action(req)? {
        // Opt-in on this route: a PingOne client need not keep cookies set after the start.
        FlowAction::UserCodeVerify { user_code, .. } => {
            FlowAction::UserCodeVerify { user_code, hold: ctx.app.settings.flow_api_holds_verified_codes }
        }
        other => other,
    };
    let step = flows::perform(ctx.app, env, flow_id, &browser, action, req.source_ip).await?;
    let application = flows::application_of(ctx.app, &step.flow).await?;
    let mut response = no_store(json(StatusCode::OK, &view::flow_json(ctx.app, &step.flow, application.as_ref())));
    for cookie in step.cookies(ctx.app) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

#[doc(hidden)]
pub fn parse_action(req: &Request) -> Result<FlowAction, FlowError> {
    let content_type = req.content_type().unwrap_or_default();
    let action = content_type
        .strip_prefix("application/vnd.pingidentity.")
        .and_then(|rest| rest.strip_suffix("+json"))
        .ok_or_else(|| {
            FlowError::invalid_request(
                "The Content-Type must name the flow action, e.g. application/vnd.pingidentity.usernamePassword.check+json.",
            )
        })?;
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| FlowError::invalid_request("The request body must be a JSON object."))?;
    let text = |name: &'static str| -> Result<String, FlowError> {
        match body.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(FlowError::invalid_data(
                "REQUIRED_VALUE",
                Some(name),
                format!("{name} is required and must be a non-empty string."),
            )),
        }
    };
    // Media types are case-insensitive; action names are compared the same way.
    match action {
        a if a.eq_ignore_ascii_case(ACTION_LOGIN) => {
            Ok(FlowAction::UsernamePasswordCheck { username: text("username")?, password: text("password")? })
        }
        a if a.eq_ignore_ascii_case(ACTION_PASSWORD_RESET) => Ok(FlowAction::PasswordReset {
            current_password: text("currentPassword")?,
            new_password: text("newPassword")?,
        }),
        a if a.eq_ignore_ascii_case(ACTION_USER_CODE) => {
            Ok(FlowAction::UserCodeVerify { user_code: text("userCode")?, hold: false })
        }
        a if a.eq_ignore_ascii_case(ACTION_CONSENT) || a.eq_ignore_ascii_case(ACTION_AUTHORIZE_CONSENT) => {
            match body.get("accept") {
                Some(Value::Bool(accept)) => Ok(FlowAction::Consent { accept: *accept }),
                _ => Err(FlowError::invalid_data(
                    "REQUIRED_VALUE",
                    Some("accept"),
                    "accept is required and must be true or false.",
                )),
            }
        }
        other => Err(FlowError::invalid_request(format!("The flow action '{other}' is not supported."))),
    }
}
