//! An application as PingOne's JSON shows it (PING-MGMT §5.2-5.4), both ways: the body of a
//! `POST` or `PUT` checked property by property into an `Application`, and an `Application`
//! into the resource a `GET` answers. Properties PingOne has keep its names, types, defaults and
//! ranges; our extensions for PingFederate's options are listed in the README.

use serde_json::{json, Value};

use super::body::{Body, Check};
use super::hal;
use crate::app::App;
use crate::certificate::normalize_dn;
use crate::client_auth::jws::parse_jwks;
use crate::config::Settings;
use crate::model::{AppType, Application, GrantType, PkceEnforcement, SigningAlg, TokenEndpointAuthMethod};

pub const TYPES: &[(&str, AppType)] = &[
    ("WEB_APP", AppType::WebApp),
    ("NATIVE_APP", AppType::NativeApp),
    ("SINGLE_PAGE_APP", AppType::SinglePageApp),
    ("WORKER", AppType::Worker),
    ("CUSTOM_APP", AppType::CustomApp),
];
const PROTOCOLS: &[(&str, ())] = &[("OPENID_CONNECT", ())];
const GRANTS: &[(&str, GrantType)] = &[
    ("AUTHORIZATION_CODE", GrantType::AuthorizationCode),
    ("DEVICE_CODE", GrantType::DeviceCode),
    ("REFRESH_TOKEN", GrantType::RefreshToken),
    ("CLIENT_CREDENTIALS", GrantType::ClientCredentials),
];
const RESPONSE_TYPES: &[(&str, ())] = &[("CODE", ())];
const AUTH_METHODS: &[(&str, TokenEndpointAuthMethod)] = &[
    ("NONE", TokenEndpointAuthMethod::None),
    ("CLIENT_SECRET_BASIC", TokenEndpointAuthMethod::ClientSecretBasic),
    ("CLIENT_SECRET_POST", TokenEndpointAuthMethod::ClientSecretPost),
    ("CLIENT_SECRET_JWT", TokenEndpointAuthMethod::ClientSecretJwt),
    ("PRIVATE_KEY_JWT", TokenEndpointAuthMethod::PrivateKeyJwt),
    // Ours (PingOne has no mutual TLS for applications): RFC 8705's methods.
    ("TLS_CLIENT_AUTH", TokenEndpointAuthMethod::TlsClientAuth),
    ("SELF_SIGNED_TLS_CLIENT_AUTH", TokenEndpointAuthMethod::SelfSignedTlsClientAuth),
];
const PKCE: &[(&str, PkceEnforcement)] = &[
    ("OPTIONAL", PkceEnforcement::Optional),
    ("REQUIRED", PkceEnforcement::Required),
    ("S256_REQUIRED", PkceEnforcement::S256Required),
];
const ALGS: &[(&str, SigningAlg)] = &[("ES256", SigningAlg::ES256), ("RS256", SigningAlg::RS256)];

fn name_of<T: PartialEq + Copy>(options: &[(&'static str, T)], value: T) -> &'static str {
    options.iter().find(|(_, v)| *v == value).map_or("", |(n, _)| n)
}

/// A redirect URI: absolute, no fragment (RFC 6749 §3.1.2), at most 2048 characters.
fn redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|_| format!("'{}' is not an absolute URI.", shorten(uri)))?;
    if parsed.fragment().is_some() || uri.len() > 2048 || uri.chars().any(char::is_whitespace) {
        return Err(format!("'{}' must have no fragment nor spaces and at most 2048 characters.", shorten(uri)));
    }
    Ok(())
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A scope token (RFC 6749 §3.3).
fn scope_token(scope: &str) -> Result<(), String> {
    let ok = !scope.is_empty()
        && scope.len() <= 256
        && scope.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("'{}' is not a scope token (RFC 6749 §3.3).", shorten(scope)))
    }
}

/// The application a `POST` (`existing: None`) or `PUT` body describes, or `INVALID_DATA` with
/// a detail for each property that fails. A `PUT` replaces every setting (PingOne: omitted
/// optional properties are cleared to their defaults); the id, secret, roles and `type` stay.
pub fn application_from(
    settings: &Settings,
    body: &Body,
    environment_id: &str,
    client_id: &str,
    existing: Option<&Application>,
) -> super::ApiResult<Application> {
    let mut c = Check::new(body);
    let mut app = Application::new(environment_id, client_id, "");
    app.name = c.string("name", true, 256).unwrap_or_default();
    app.description = c.string("description", false, 1024);
    app.enabled = c.boolean("enabled", false);
    let app_type = c.choice("type", TYPES, true);
    c.choice("protocol", PROTOCOLS, true);
    if let (Some(new), Some(old)) = (app_type, existing) {
        if new != old.app_type {
            c.fail("INVALID_VALUE", "type", "type cannot be changed once the application exists.".into(), None);
        }
    }
    app.app_type = app_type.unwrap_or_default();
    let grant_types = c.choices("grantTypes", GRANTS);
    // An unreadable list already has its detail; an absent or empty one is missing.
    let grants_missing = grant_types.as_ref().map_or(!body.has("grantTypes"), Vec::is_empty);
    app.grant_types = grant_types.unwrap_or_default();
    if grants_missing && body.has("type") {
        c.fail("REQUIRED_VALUE", "grantTypes", "grantTypes must name at least one grant type.".into(), None);
    }
    c.choices("responseTypes", RESPONSE_TYPES);
    let method = c.choice("tokenEndpointAuthMethod", AUTH_METHODS, true);
    app.token_endpoint_auth_method = method.unwrap_or(TokenEndpointAuthMethod::None);
    if method == Some(TokenEndpointAuthMethod::None) && app.allows(GrantType::ClientCredentials) {
        let message = "CLIENT_CREDENTIALS needs a confidential client: a tokenEndpointAuthMethod other than NONE.";
        c.fail("INVALID_VALUE", "tokenEndpointAuthMethod", message.into(), None);
    }
    app.redirect_uris = c.strings("redirectUris", 100, redirect_uri).unwrap_or_default();
    // Absent or `[]` (an invalid list has its own detail already).
    let no_redirects = body.get("redirectUris").is_none_or(|v| v.as_array().is_some_and(Vec::is_empty));
    if app.allows(GrantType::AuthorizationCode) && app.redirect_uris.is_empty() && no_redirects {
        let message = "AUTHORIZATION_CODE needs at least one redirect URI.";
        c.fail("REQUIRED_VALUE", "redirectUris", message.into(), None);
    }
    app.post_logout_redirect_uris = c.strings("postLogoutRedirectUris", 100, redirect_uri).unwrap_or_default();
    app.pkce_enforcement = c.choice("pkceEnforcement", PKCE, false).unwrap_or_default();
    app.device_timeout = c.int("deviceTimeout", 1, 3600, 600) as u32;
    app.device_polling_interval = c.int("devicePollingInterval", 1, 60, 5) as u32;
    app.device_path_id = c.string("devicePathId", false, 50);
    if let Some(path) = &app.device_path_id {
        if !crate::model::valid_device_path_id(path) {
            let inner = json!({ "allowedPattern": "^[a-zA-Z0-9_-]{1,50}$" });
            let message = "devicePathId must match ^[a-zA-Z0-9_-]{1,50}$ (and be neither 'qr' nor a UUID).".to_owned();
            c.fail("INVALID_VALUE", "devicePathId", message, Some(inner));
        }
    }
    let max = i64::from(i32::MAX);
    app.refresh_token_lifetime = c.int("refreshTokenDuration", 60, max, 2_592_000) as u32;
    app.refresh_token_rolling_duration = c.int("refreshTokenRollingDuration", 60, max, 15_552_000) as u32;
    if app.refresh_token_lifetime > app.refresh_token_rolling_duration {
        let message = "refreshTokenDuration must not exceed refreshTokenRollingDuration.".to_owned();
        c.fail("INVALID_VALUE", "refreshTokenDuration", message, None);
    }
    app.jwks = c.string("jwks", false, 65_536);
    if let Some(jwks) = &app.jwks {
        if let Err(reason) = parse_jwks(jwks.as_bytes()) {
            let message = format!("jwks must be a JWKS of public keys serialized as a JSON string: {reason}.");
            c.fail("INVALID_VALUE", "jwks", message, None);
        }
    }
    app.jwks_url = c.string("jwksUrl", false, 2048);
    if let Some(url) = &app.jwks_url {
        if !settings.jwks_url_allowed(url) {
            c.fail("INVALID_VALUE", "jwksUrl", "jwksUrl must be an https URL.".into(), None);
        }
    }
    let has_keys = body.has("jwks") || body.has("jwksUrl");
    if matches!(method, Some(TokenEndpointAuthMethod::PrivateKeyJwt | TokenEndpointAuthMethod::SelfSignedTlsClientAuth))
        && !has_keys
    {
        let message = format!("{} needs jwks or jwksUrl.", name_of(AUTH_METHODS, app.token_endpoint_auth_method));
        c.fail("REQUIRED_VALUE", "jwks", message, None);
    }
    let tls = method == Some(TokenEndpointAuthMethod::TlsClientAuth);
    app.tls_client_auth_subject_dn = c.string("tlsClientAuthSubjectDn", tls, 1024);
    app.tls_client_auth_issuer_dn = c.string("tlsClientAuthIssuerDn", tls, 1024);
    for (name, dn) in [
        ("tlsClientAuthSubjectDn", &app.tls_client_auth_subject_dn),
        ("tlsClientAuthIssuerDn", &app.tls_client_auth_issuer_dn),
    ] {
        if let Some(Err(e)) = dn.as_deref().map(normalize_dn) {
            c.fail("INVALID_VALUE", name, format!("{name} must be an RFC 4514 distinguished name: {e}."), None);
        }
    }
    app.tls_client_certificate_bound_access_tokens = c.boolean("tlsClientCertificateBoundAccessTokens", false);
    // Ours (README, "Where we add to PingOne"): PingFederate's options.
    app.scopes = c
        .strings("allowedScopes", 100, scope_token)
        .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec());
    app.user_code_length = c.int("userCodeLength", 6, 12, 8) as u8;
    app.bypass_activation_code_confirmation = c.boolean("bypassActivationCodeConfirmation", false);
    app.bypass_approval_page = c.boolean("bypassApprovalPage", false);
    app.require_consent = c.boolean("requireConsent", false);
    app.access_token_lifetime = c.int("accessTokenDuration", 60, 86_400, 3600) as u32;
    app.token_signing_alg = c.choice("tokenSigningAlgorithm", ALGS, false).unwrap_or_default();
    c.finish()?;
    if let Some(old) = existing {
        app.client_secret = old.client_secret.clone().filter(|_| app.token_endpoint_auth_method.uses_secret());
        app.role_assignments = old.role_assignments.clone();
        app.created_ms = old.created_ms;
        app.revision = old.revision;
    }
    Ok(app)
}

/// The application as PingOne's resource.
pub fn application_json(app: &App, a: &Application) -> Value {
    let base = hal::env_url(app, &a.environment_id, &format!("/applications/{}", a.client_id));
    let mut link_pairs = vec![("self", base.clone()), ("environment", hal::env_url(app, &a.environment_id, ""))];
    if a.token_endpoint_auth_method.uses_secret() {
        link_pairs.push(("secret", format!("{base}/secret")));
    }
    if a.app_type == AppType::Worker {
        link_pairs.push(("roleAssignments", format!("{base}/roleAssignments")));
    }
    let mut body = json!({
        "_links": hal::links(link_pairs),
        "id": a.client_id,
        "clientId": a.client_id,
        "name": a.name,
        "enabled": a.enabled,
        "hiddenFromAppPortal": false,
        "type": name_of(TYPES, a.app_type),
        "protocol": "OPENID_CONNECT",
        "assignActorRoles": false,
        "grantTypes": a.grant_types.iter().map(|g| name_of(GRANTS, *g)).collect::<Vec<_>>(),
        "responseTypes": if a.allows(GrantType::AuthorizationCode) { vec!["CODE"] } else { vec![] },
        "tokenEndpointAuthMethod": name_of(AUTH_METHODS, a.token_endpoint_auth_method),
        "redirectUris": a.redirect_uris,
        "postLogoutRedirectUris": a.post_logout_redirect_uris,
        "pkceEnforcement": name_of(PKCE, a.pkce_enforcement),
        "deviceTimeout": a.device_timeout,
        "devicePollingInterval": a.device_polling_interval,
        "refreshTokenDuration": a.refresh_token_lifetime,
        "refreshTokenRollingDuration": a.refresh_token_rolling_duration,
        "additionalRefreshTokenReplayProtectionEnabled": true,
        "allowedScopes": a.scopes,
        "userCodeLength": a.user_code_length,
        "bypassActivationCodeConfirmation": a.bypass_activation_code_confirmation,
        "bypassApprovalPage": a.bypass_approval_page,
        "requireConsent": a.require_consent,
        "accessTokenDuration": a.access_token_lifetime,
        "tokenSigningAlgorithm": name_of(ALGS, a.token_signing_alg),
        "tlsClientCertificateBoundAccessTokens": a.tls_client_certificate_bound_access_tokens,
    });
    let optional = [
        ("description", &a.description),
        ("devicePathId", &a.device_path_id),
        ("jwks", &a.jwks),
        ("jwksUrl", &a.jwks_url),
        ("tlsClientAuthSubjectDn", &a.tls_client_auth_subject_dn),
        ("tlsClientAuthIssuerDn", &a.tls_client_auth_issuer_dn),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            body[name] = json!(v);
        }
    }
    hal::stamp(body, &a.environment_id, a.created_ms, a.updated_ms)
}
