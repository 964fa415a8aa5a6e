//! `GET /{envId}/device` and `GET /{envId}/device/{appIdentifier}`: start the person's side of a
//! device flow and send the browser to the sign-on UI with its `flowId` (PING-COMPAT §1.1). The
//! flow belongs to the browser that asked (`flows::start`).

use crate::browser::BrowserKey;
use crate::codes::UserCode;
use crate::context::Context;
use crate::error::{finish, FlowError};
use crate::flows::start::device_flow;
use crate::http::{redirect, Request, Response};
use crate::pages::signon_path;
use crate::sessions::Session;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, FlowError> {
    let (app, env) = (ctx.app, ctx.environment_id());
    let application_id = match ctx.params.app_identifier() {
        Some(identifier) => {
            let application = app.application_by_identifier(env, identifier).await?;
            Some(application.ok_or_else(FlowError::not_found)?.client_id)
        }
        None => None,
    };
    let browser = BrowserKey::of(app, req);
    // The sign-on UI pre-fills the activation code; only a well-formed code is passed on.
    let typed = req.query_params().ok().and_then(|q| q.get("user_code").and_then(UserCode::parse));
    let session = Session::from_request(app, env, req);
    let start = device_flow(app, env, application_id.as_deref(), &browser, session, typed, req.source_ip).await?;
    let location = format!("{}{}", app.settings.public_base_url, signon_path(env, &start));
    Ok(browser.finish(app, redirect(&location)))
}
