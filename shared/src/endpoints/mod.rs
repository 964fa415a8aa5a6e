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
pub mod signon;
pub mod token;
pub mod user_authorization;
pub mod userinfo;

use crate::error::OAuthError;
use crate::http::{Params, Request};

/// The form body of an OAuth POST, or the `invalid_request` saying why it is not one.
pub(crate) fn oauth_form(req: &Request) -> Result<Params, OAuthError> {
    req.form().map_err(|e| OAuthError::invalid_request(e.describe()))
}
