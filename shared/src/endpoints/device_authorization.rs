//! `POST /{envId}/as/device_authorization` and PingFederate's `POST /as/device_authz.oauth2`
//! (RFC 8628 §3.1-3.2, seeds 001/002).

use http::StatusCode;
use serde::Serialize;

use crate::app::{Dialect, Endpoint};
use crate::client_auth::authenticate;
use crate::codes::UserCode;
use crate::context::Context;
use crate::endpoints::oauth_form;
use crate::error::{finish, OAuthError};
use crate::grants::{device_code, requested_scopes};
use crate::http::{encode_query_value, json, no_store, Request, Response};
use crate::model::{Application, GrantType};
use crate::store::Requester;

#[derive(Serialize)]
struct Body {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u32,
    interval: u32,
}

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, OAuthError> {
    let params = oauth_form(req)?;
    let application = authenticate(ctx, Endpoint::DeviceAuthorization, req, &params).await?;
    if !application.allows(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client("urn:ietf:params:oauth:grant-type:device_code"));
    }
    let scopes = requested_scopes(&application, params.get("scope"))?;
    let requester = Requester {
        ip: req.source_ip.map(|ip| ip.to_string()),
        user_agent: req.user_agent().map(|ua| ua.chars().take(256).collect()),
    };
    let authorization =
        device_code::authorize(ctx.app, ctx.dialect, &application, scopes, requester, req.source_ip).await?;
    let verification_uri = verification_uri(ctx, &application);
    let body = Body {
        device_code: authorization.device_code.secret().to_owned(),
        verification_uri_complete: complete(&verification_uri, &authorization.user_code),
        user_code: authorization.user_code.display(),
        verification_uri,
        expires_in: authorization.expires_in,
        interval: authorization.interval,
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}

/// Where the person goes (PING-COMPAT §1.3, §5.2): the PingOne device path of the environment
/// (with the application's `devicePathId`), or PingFederate's user authorization endpoint.
fn verification_uri(ctx: &Context<'_>, application: &Application) -> String {
    let base = &ctx.app.settings.public_base_url;
    match (ctx.dialect, &application.device_path_id) {
        (Dialect::PingOne, Some(path)) => format!("{base}/{}/device/{path}", ctx.environment_id()),
        (Dialect::PingOne, None) => format!("{base}/{}/device", ctx.environment_id()),
        (Dialect::PingFederate, _) => format!("{base}/as/user_authz.oauth2"),
    }
}

fn complete(verification_uri: &str, user_code: &UserCode) -> String {
    format!("{verification_uri}?user_code={}", encode_query_value(&user_code.display()))
}
