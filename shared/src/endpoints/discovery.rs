//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) for what this server
//! serves: `/{envId}/as/.well-known/openid-configuration` and PingFederate's
//! `/.well-known/openid-configuration`, and the same document at the RFC 8414
//! `oauth-authorization-server` locations.

use std::sync::OnceLock;

use http::StatusCode;
use serde_json::json;

use crate::app::{App, Dialect, Endpoint};
use crate::client_auth::jws::Alg;
use crate::context::Context;
use crate::endpoints::token::DEVICE_CODE_GRANT;
use crate::grants::ACR_SINGLE_FACTOR;
use crate::http::{json, json_bytes, Request, Response};
use crate::model::TokenEndpointAuthMethod;

/// Stands for the environment id in the documents built once per dialect: the id only ever
/// appears inside URLs, and routes only as a canonical UUID, so a plain replace is exact.
const ENVIRONMENT_PLACEHOLDER: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/// The metadata of each dialect, serialized once per instance (it depends only on the settings).
#[derive(Default)]
pub struct Documents(OnceLock<[String; 2]>);

pub async fn handle(ctx: &Context<'_>, _req: &Request) -> Response {
    let app = ctx.app;
    let env = ctx.environment_id();
    if app.settings.public_base_url.contains(ENVIRONMENT_PLACEHOLDER) {
        return json(StatusCode::OK, &document(ctx.app, ctx.dialect, env));
    }
    let documents = app.discovery.0.get_or_init(|| {
        [Dialect::PingOne, Dialect::PingFederate]
            .map(|d| serde_json::to_string(&document(app, d, ENVIRONMENT_PLACEHOLDER)).expect("metadata serializes"))
    });
    let template = &documents[usize::from(ctx.dialect == Dialect::PingFederate)];
    json_bytes(StatusCode::OK, template.replace(ENVIRONMENT_PLACEHOLDER, env).into_bytes())
}

fn document(app: &App, dialect: Dialect, env: &str) -> serde_json::Value {
    let issuer = app.issuer(dialect, env);
    let url = |endpoint| app.endpoint_url(dialect, env, endpoint);
    use TokenEndpointAuthMethod as M;
    let confidential: Vec<&str> = [
        M::ClientSecretBasic,
        M::ClientSecretPost,
        M::ClientSecretJwt,
        M::PrivateKeyJwt,
        M::TlsClientAuth,
        M::SelfSignedTlsClientAuth,
    ]
    .map(M::rfc_name)
    .to_vec();
    let with_none: Vec<&str> = std::iter::once(M::None.rfc_name()).chain(confidential.iter().copied()).collect();
    let mut jwt_algs = Alg::names(true);
    jwt_algs.extend(Alg::names(false));
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": url(Endpoint::Authorize),
        "token_endpoint": url(Endpoint::Token),
        "userinfo_endpoint": url(Endpoint::Userinfo),
        "jwks_uri": url(Endpoint::Jwks),
        "introspection_endpoint": url(Endpoint::Introspect),
        "revocation_endpoint": url(Endpoint::Revoke),
        "end_session_endpoint": url(Endpoint::Signoff),
        "device_authorization_endpoint": url(Endpoint::DeviceAuthorization),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256", "plain"],
        "token_endpoint_auth_methods_supported": with_none,
        "token_endpoint_auth_signing_alg_values_supported": jwt_algs,
        "introspection_endpoint_auth_methods_supported": confidential,
        "introspection_endpoint_auth_signing_alg_values_supported": jwt_algs,
        "revocation_endpoint_auth_methods_supported": with_none,
        "revocation_endpoint_auth_signing_alg_values_supported": jwt_algs,
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
        "tls_client_certificate_bound_access_tokens": true,
    });
    let mut body = body;
    if app.settings.mtls_base_url.is_some() {
        let aliases = [
            ("token_endpoint", Endpoint::Token),
            ("revocation_endpoint", Endpoint::Revoke),
            ("introspection_endpoint", Endpoint::Introspect),
            ("device_authorization_endpoint", Endpoint::DeviceAuthorization),
            ("userinfo_endpoint", Endpoint::Userinfo),
        ];
        let aliases: serde_json::Map<String, serde_json::Value> = aliases
            .into_iter()
            .filter_map(|(name, e)| app.mtls_endpoint_url(dialect, env, e).map(|u| (name.to_owned(), json!(u))))
            .collect();
        body["mtls_endpoint_aliases"] = serde_json::Value::Object(aliases);
    }
    body
}
