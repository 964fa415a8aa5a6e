//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) for what this server
//! serves: `/{envId}/as/.well-known/openid-configuration` and PingFederate's
//! `/.well-known/openid-configuration`.

use http::StatusCode;
use serde_json::json;

use crate::app::Dialect;
use crate::endpoints::token::DEVICE_CODE_GRANT;
use crate::http::{json, Request, Response};
use crate::routes::Context;

pub async fn handle(ctx: &Context<'_>, _req: &Request) -> Response {
    let app = ctx.app;
    let env = ctx.environment_id();
    let issuer = app.issuer(ctx.dialect, env);
    let base = &app.settings.public_base_url;
    let (token, jwks, device) = match ctx.dialect {
        Dialect::PingOne => {
            (format!("{issuer}/token"), format!("{issuer}/jwks"), format!("{issuer}/device_authorization"))
        }
        Dialect::PingFederate => {
            (format!("{base}/as/token.oauth2"), format!("{base}/pf/JWKS"), format!("{base}/as/device_authz.oauth2"))
        }
    };
    let body = json!({
        "issuer": issuer,
        "token_endpoint": token,
        "jwks_uri": jwks,
        "device_authorization_endpoint": device,
        "grant_types_supported": [DEVICE_CODE_GRANT],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "sid", "acr", "amr", "at_hash",
            "preferred_username", "given_name", "family_name", "email"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    json(StatusCode::OK, &body)
}
