//! `GET /{envId}/as/resume?flowId=…` (PING-COMPAT §2.2): the completed flow of an authorization
//! request becomes its code, once, and the browser returns to the client. Only the browser that
//! started the flow gets the code.

use http::StatusCode;

use crate::context::Context;
use crate::flows::{self, FlowStatus, Opened};
use crate::grants::authorization_code::{code_redirect, error_redirect, issue_code};
use crate::http::{redirect, Request, Response};
use crate::pages::Pages;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let (app, env) = (ctx.app, ctx.environment_id());
    let pages = Pages::new(app, env, req);
    let show = |status: StatusCode, message: &str| pages.message_page(status, pages.text.invalid_title, message);
    let query = req.query_params().unwrap_or_default();
    let Some(flow_id) = query.get("flowId") else {
        return show(StatusCode::BAD_REQUEST, "The flowId parameter is required.");
    };
    let started = match flows::open(app, env, flow_id, &pages.browser) {
        Opened::Unknown => return pages.invalid(),
        Opened::Foreign(_) => return pages.other_browser(),
        Opened::Own(started) => started,
    };
    // A completed flow this instance answered last: resume's write is conditional on it
    // (`flows::cache`), so no read is needed.
    let remembered = app
        .flows
        .recall(&started.flow.flow_id, app.clock.now_ms())
        .filter(|f| flows::status(f) == FlowStatus::Completed && f.environment_id == started.flow.environment_id);
    let current = match remembered {
        Some(flow) => Ok(flow),
        None => flows::current(app, &started).await,
    };
    let flow = match current {
        Ok(flow) => flow,
        Err(e) if e.status == StatusCode::NOT_FOUND => return pages.invalid(),
        Err(e) => return show(e.status, &e.message),
    };
    let Some(request) = flow.authorize.clone() else {
        return show(StatusCode::BAD_REQUEST, "This flow does not belong to an authorization request.");
    };
    match flows::status(&flow) {
        FlowStatus::Completed => match issue_code(app, &flow).await {
            Ok(Some(code)) => {
                app.flows.forget(&flow.flow_id);
                redirect(&code_redirect(&request, &code))
            }
            Ok(None) => {
                show(StatusCode::BAD_REQUEST, "This sign-in was already completed. Start again from the application.")
            }
            Err(_) => pages.unavailable(),
        },
        FlowStatus::Failed => redirect(&error_redirect(&request, "access_denied", "The person denied the request.")),
        _ => redirect(&format!("{}{}", app.settings.public_base_url, pages.signon_url(flow_id))),
    }
}
