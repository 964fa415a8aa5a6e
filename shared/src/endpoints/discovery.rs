//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) for what this server
//! serves: `/{envId}/as/.well-known/openid-configuration` and PingFederate's
//! `/.well-known/openid-configuration`, and the same document at the RFC 8414
//! `oauth-authorization-server` locations.

use http::StatusCode;
use serde_json::json;

use crate::app::Dialect;
use crate::context::Context;
use crate::endpoints::token::DEVICE_CODE_GRANT;
use crate::grants::ACR_SINGLE_FACTOR;
use crate::http::{json, Request, Response};

pub async fn handle(ctx: &Context<'_>, _req: &Request) -> Response {
    let app = ctx.app;
    let env = ctx.environment_id();
    let issuer = app.issuer(ctx.dialect, env);
    let base = &app.settings.public_base_url;
    let path = |p1: &str, pf: &str| match ctx.dialect {
        Dialect::PingOne => format!("{issuer}/{p1}"),
        Dialect::PingFederate => format!("{base}{pf}"),
    };
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": path("authorize", "/as/authorization.oauth2"),
        "token_endpoint": path("token", "/as/token.oauth2"),
        "userinfo_endpoint": path("userinfo", "/idp/userinfo.openid"),
        "jwks_uri": path("jwks", "/pf/JWKS"),
        "introspection_endpoint": path("introspect", "/as/introspect.oauth2"),
        "revocation_endpoint": path("revoke", "/as/revoke_token.oauth2"),
        "end_session_endpoint": path("signoff", "/idp/init_logout.openid"),
        "device_authorization_endpoint": path("device_authorization", "/as/device_authz.oauth2"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256", "plain"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "acr_values_supported": [ACR_SINGLE_FACTOR],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "acr", "amr", "at_hash",
            "preferred_username", "given_name", "family_name", "email"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    json(StatusCode::OK, &body)
}
