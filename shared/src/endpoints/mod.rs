//! One file per endpoint: parse the request, call the grant or flow engine, answer.

pub mod assets;
pub mod authorize;
pub mod device;
pub mod device_authorization;
pub mod discovery;
pub mod flows;
pub mod grants;
pub mod introspect;
pub mod jwks;
pub mod qr;
pub mod resume;
pub mod revoke;
pub mod signoff;
pub mod signon;
pub mod token;
pub mod user_authorization;
pub mod userinfo;

use crate::app::Endpoint;
use crate::client_auth::authenticate;
use crate::context::Context;
use crate::error::OAuthError;
use crate::http::{Params, Request};
use crate::model::Application;

/// The form body of an OAuth POST, or the `invalid_request` saying why it is not one.
pub(crate) fn oauth_form(req: &Request) -> Result<Params, OAuthError> {
    req.form().map_err(|e| OAuthError::invalid_request(e.describe()))
}

/// The authenticated client and the `token` parameter of an introspection or revocation request
/// (RFC 7662 §2.1, RFC 7009 §2.1). `confidential`: only a client that proved a credential
/// (introspection, against token scanning: RFC 7662 §2.1, §4).
pub(crate) async fn client_and_token(
    ctx: &Context<'_>,
    endpoint: Endpoint,
    req: &Request,
    confidential: bool,
) -> Result<(Application, String), OAuthError> {
    let params = oauth_form(req)?;
    let client = authenticate(ctx, endpoint, req, &params).await?;
    if confidential && client.token_endpoint_auth_method == crate::model::TokenEndpointAuthMethod::None {
        return Err(OAuthError::invalid_client());
    }
    let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("The token parameter is required."))?;
    Ok((client, token.to_owned()))
}
