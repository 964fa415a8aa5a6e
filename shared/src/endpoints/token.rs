//! `POST /{envId}/as/token` and PingFederate's `POST /as/token.oauth2` (RFC 6749 §3.2, §5).

use http::StatusCode;

use crate::app::Endpoint;
use crate::client_auth::authenticate;
use crate::codes::DeviceCode;
use crate::context::Context;
use crate::endpoints::oauth_form;
use crate::error::{finish, OAuthError};
use crate::grants::{authorization_code, client_credentials, device_code, refresh};
use crate::http::{json, no_store, Request, Response};
use crate::model::GrantType;

/// RFC 8628 §3.4.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, OAuthError> {
    let params = oauth_form(req)?;
    let grant_type =
        params.get("grant_type").ok_or_else(|| OAuthError::invalid_request("The grant_type parameter is required."))?;
    let application = authenticate(ctx, Endpoint::Token, req, &params).await?;
    let tokens = match grant_type {
        DEVICE_CODE_GRANT => {
            if !application.allows(GrantType::DeviceCode) {
                return Err(OAuthError::unauthorized_client(DEVICE_CODE_GRANT));
            }
            let code = params
                .get("device_code")
                .ok_or_else(|| OAuthError::invalid_request("The device_code parameter is required."))?;
            device_code::poll(ctx.app, ctx.dialect, &application, &DeviceCode::from_client(code)).await?
        }
        "authorization_code" => authorization_code::redeem(ctx.app, issuer(ctx), &application, &params).await?,
        "refresh_token" => {
            if !application.allows(GrantType::RefreshToken) {
                return Err(OAuthError::unauthorized_client("refresh_token"));
            }
            let token = params
                .get("refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("The refresh_token parameter is required."))?;
            refresh::refresh(ctx.app, issuer(ctx), &application, token, params.get("scope")).await?
        }
        "client_credentials" => client_credentials::grant(ctx.app, issuer(ctx), &application, params.get("scope"))?,
        other => return Err(OAuthError::unsupported_grant_type(other)),
    };
    Ok(no_store(json(StatusCode::OK, &tokens)))
}

fn issuer(ctx: &Context<'_>) -> String {
    ctx.app.issuer(ctx.dialect, ctx.environment_id())
}
