//! `GET /{envId}/as/resume?flowId=…` (PING-COMPAT §2.2): the completed flow of an authorization
//! request becomes its code, once, and the browser returns to the client.

use http::StatusCode;

use crate::flows::{self, FlowStatus};
use crate::grants::authorization_code::{code_redirect, error_redirect, issue_code};
use crate::http::{redirect, Request, Response};
use crate::pages::html::{esc, page};
use crate::pages::text::EN;
use crate::routes::Context;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let (app, env) = (ctx.app, ctx.environment_id());
    let show = |status: StatusCode, message: &str| {
        page(&EN, env, status, EN.invalid_title, &format!("<p id=\"result\">{}</p>", esc(message)))
    };
    let query = req.query_params().unwrap_or_default();
    let Some(flow_id) = query.get("flowId") else {
        return show(StatusCode::BAD_REQUEST, "The flowId parameter is required.");
    };
    let flow = match flows::load(app, env, flow_id).await {
        Ok(flow) => flow,
        Err(e) if e.status == StatusCode::NOT_FOUND => return show(StatusCode::NOT_FOUND, EN.invalid_body),
        Err(e) => return show(e.status, &e.message),
    };
    let Some(request) = flow.authorize.clone() else {
        return show(StatusCode::BAD_REQUEST, "This flow does not belong to an authorization request.");
    };
    match flows::status(&flow) {
        FlowStatus::Completed => match issue_code(app, &flow).await {
            Ok(Some(code)) => redirect(&code_redirect(&request, &code)),
            Ok(None) => {
                show(StatusCode::BAD_REQUEST, "This sign-in was already completed. Start again from the application.")
            }
            Err(_) => show(StatusCode::SERVICE_UNAVAILABLE, "The server could not reach its store; try again shortly."),
        },
        FlowStatus::Failed => redirect(&error_redirect(&request, "access_denied", "The person denied the request.")),
        _ => redirect(&format!("{}/{env}/signon/?flowId={flow_id}", app.settings.public_base_url)),
    }
}
