//! PingFederate's user authorization endpoint `GET|POST /as/user_authz.oauth2` (seed 000):
//! starts a flow on the default environment and sends the browser to its sign-on pages, with
//! the optional `user_code` (query on GET, form on POST) for confirmation.

use http::header::{HeaderValue, LOCATION};
use http::{Method, StatusCode};

use crate::codes::UserCode;
use crate::flows::new_flow_id;
use crate::http::{encode_query_value, no_store, Request, Response};
use crate::pages::html::secure;
use crate::routes::Context;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let params = if req.method == Method::POST { req.form() } else { req.query_params() };
    let typed = params.ok().and_then(|p| p.get("user_code").and_then(UserCode::parse));
    let env = ctx.environment_id();
    let flow_id = new_flow_id(ctx.app, env, None);
    let mut location = format!("/{env}/signon/?flowId={}", encode_query_value(&flow_id));
    if let Some(code) = typed {
        location.push_str(&format!("&user_code={}", encode_query_value(&code.display())));
    }
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    secure(no_store(response))
}
