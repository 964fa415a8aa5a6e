//! The `client_credentials` grant (RFC 6749 §4.4) for confidential applications (PingOne WORKER
//! apps): an access token for the application itself, no refresh token, no ID token.

use crate::app::App;
use crate::error::OAuthError;
use crate::grants::{issue_tokens, requested_scopes, Issue, TokenResponse};
use crate::model::{Application, GrantType, TokenEndpointAuthMethod};

pub fn grant(
    app: &App,
    issuer: String,
    application: &Application,
    scope: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let confidential = application.token_endpoint_auth_method != TokenEndpointAuthMethod::None;
    if !application.allows(GrantType::ClientCredentials) || !confidential {
        return Err(OAuthError::unauthorized_client("client_credentials"));
    }
    let scopes = requested_scopes(application, scope)?;
    Ok(issue_tokens(
        app,
        Issue { issuer, application, subject: None, scopes: &scopes, nonce: None, family: None, refresh_token: None },
    ))
}
