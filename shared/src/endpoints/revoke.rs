//! `POST /{envId}/as/revoke` and PingFederate's `/as/revoke_token.oauth2` (RFC 7009).
//! Revoking a refresh token, or an access token from a grant, revokes the grant's whole family;
//! a client credentials access token is revoked alone.
//! The answer is 200 whatever the token was (§2.2), so it reveals nothing.

use http::StatusCode;

use crate::app::Endpoint;
use crate::audit::{Action, Status};
use crate::context::Context;
use crate::endpoints::client_and_token;
use crate::error::{finish, OAuthError};
use crate::grants::inspect::{inspect, Live};
use crate::http::{no_store, Request, Response};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, OAuthError> {
    let (client, token) = client_and_token(ctx, Endpoint::Revoke, req, false).await?;
    if let Some(live) = inspect(ctx.app, ctx.dialect, ctx.environment_id(), &token).await? {
        // Only the application a token was issued to may revoke it (§2.1).
        if live.client_id() == client.client_id {
            match (live.family(), &live) {
                (Some(family), _) => {
                    ctx.app.store.revoke_family(family.kind, &family.grant_id, ctx.app.clock.now_ms()).await?
                }
                // A token without a family (client credentials) is revoked alone, until it expires.
                (None, Live::Access { claims, .. }) => {
                    let jti = claims["jti"].as_str().unwrap_or_default();
                    ctx.app.store.revoke_token(jti, claims["exp"].as_i64().unwrap_or_default()).await?
                }
                (None, Live::Refresh { .. }) => return Ok(ok()),
            }
            let mut event = ctx
                .app
                .audit(ctx.environment_id(), Action::TokenRevoked, Status::Success, "Token revoked (RFC 7009).")
                .client(&client.client_id);
            if let Some(family) = live.family() {
                event = event.resource("GRANT", &family.grant_id);
            }
            event.emit();
        }
    }
    Ok(ok())
}

fn ok() -> Response {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::OK;
    no_store(response)
}
