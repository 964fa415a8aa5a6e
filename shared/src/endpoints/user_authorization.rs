//! PingFederate's user authorization endpoint `GET|POST /as/user_authz.oauth2` (seed 000):
//! starts a flow on the default environment for the browser that asks and sends it to the
//! sign-on pages, with the optional `user_code` (query on GET, form on POST) for confirmation.

use http::header::{HeaderValue, LOCATION};
use http::{Method, StatusCode};

use crate::browser::BrowserKey;
use crate::codes::UserCode;
use crate::context::Context;
use crate::flows::start::device_flow;
use crate::http::{no_store, Request, Response};
use crate::pages::html::{page, secure};
use crate::pages::signon_path;
use crate::pages::text::EN;
use crate::sessions::Session;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let (app, env) = (ctx.app, ctx.environment_id());
    let params = if req.method == Method::POST { req.form() } else { req.query_params() };
    let typed = params.ok().and_then(|p| p.get("user_code").and_then(UserCode::parse));
    let browser = BrowserKey::of(app, req);
    let session = Session::from_request(app, env, req);
    let start = match device_flow(app, env, None, &browser, session, typed, req.source_ip).await {
        Ok(start) => start,
        Err(e) => {
            let body = format!("<p id=\"result\">{}</p>", crate::pages::html::esc(&e.message));
            return page(&EN, env, e.status, "Please try again", &body);
        }
    };
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(&signon_path(env, &start)) {
        response.headers_mut().insert(LOCATION, value);
    }
    browser.finish(app, secure(no_store(response)))
}
