//! `POST /{envId}/as/introspect` and PingFederate's `/as/introspect.oauth2` (RFC 7662).
//! Client-authenticated; anything unknown, expired or revoked is `{"active": false}`.

use http::StatusCode;
use serde_json::{json, Value};

use crate::app::Endpoint;
use crate::context::Context;
use crate::endpoints::client_and_token;
use crate::error::{finish, OAuthError};
use crate::grants::inspect::{inspect, Live};
use crate::http::{json, no_store, Request, Response};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    finish(respond(ctx, req).await)
}

async fn respond(ctx: &Context<'_>, req: &Request) -> Result<Response, OAuthError> {
    let (client, token) = client_and_token(ctx, Endpoint::Introspect, req, true).await?;
    let body = match inspect(ctx.app, ctx.dialect, ctx.environment_id(), &token).await? {
        Some(Live::Access { claims, .. }) => {
            let mut out = json!({ "active": true, "token_type": "Bearer" });
            for name in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "sid", "cnf"] {
                if let Some(v) = claims.get(name) {
                    out[name] = v.clone();
                }
            }
            out
        }
        // Refresh tokens are only described to the application they were issued to.
        Some(Live::Refresh { family }) if family.client_id == client.client_id => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": family.scopes.join(" "),
            "client_id": family.client_id,
            "sub": family.subject.user_id,
            "exp": family.expires_at,
        }),
        _ => json!({ "active": false }),
    };
    Ok(no_store(json::<Value>(StatusCode::OK, &body)))
}
