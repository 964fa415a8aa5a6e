//! `GET /{envId}/device` and `GET /{envId}/device/{appIdentifier}`: start the person's side of a
//! device flow and send the browser to the sign-on UI with its `flowId` (PING-COMPAT §1.1).

use crate::codes::UserCode;
use crate::error::{finish, FlowError};
use crate::flows::new_flow_id;
use crate::http::{encode_query_value, redirect, Request, Response};
use crate::routes::Context;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, FlowError> {
    let env = ctx.environment_id();
    let application_id = match &ctx.params.app_identifier {
        Some(identifier) => {
            let application = ctx.app.application_by_identifier(env, identifier).await?;
            Some(application.ok_or_else(FlowError::not_found)?.client_id)
        }
        None => None,
    };
    let flow_id = new_flow_id(ctx.app, env, application_id.as_deref());
    let mut location = format!("{}/{env}/signon/?flowId={flow_id}", ctx.app.settings.public_base_url);
    // The sign-on UI pre-fills the activation code; only a well-formed code is passed on.
    let typed = req.query_params().ok().and_then(|q| q.get("user_code").and_then(UserCode::parse));
    if let Some(code) = typed {
        location.push_str(&format!("&user_code={}", encode_query_value(&code.display())));
    }
    Ok(redirect(&location))
}
