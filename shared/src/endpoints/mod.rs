//! One file per endpoint: parse the request, call the grant or flow engine, answer.

pub mod device;
pub mod device_authorization;
pub mod discovery;
pub mod flows;
pub mod jwks;
pub mod token;

use crate::error::OAuthError;
use crate::http::{Params, Request};

/// The form body of an OAuth POST, or the `invalid_request` saying why it is not one.
pub(crate) fn oauth_form(req: &Request) -> Result<Params, OAuthError> {
    req.form().map_err(|e| OAuthError::invalid_request(e.describe()))
}
