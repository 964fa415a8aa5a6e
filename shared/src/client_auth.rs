//! Client authentication at the device authorization and token endpoints (RFC 6749 §2.3,
//! PING-COMPAT §3.1, §5.6).
//!
//! Each application has exactly one `tokenEndpointAuthMethod`; the credentials presented must be
//! of that method. `client_secret_jwt`, `private_key_jwt` and mTLS slot in as further arms of
//! `authenticate` (the `client_assertion` parameters are already recognised).

use crate::app::App;
use crate::error::OAuthError;
use crate::http::{Params, Request};
use crate::model::{Application, TokenEndpointAuthMethod as Method};

/// The credentials a request carries.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    Basic { client_id: String, secret: String },
    Post { client_id: String, secret: String },
    Assertion { client_id: Option<String> },
    IdOnly { client_id: String },
}

fn presented(req: &Request, params: &Params) -> Result<Presented, OAuthError> {
    if req.headers.get_all(http::header::AUTHORIZATION).iter().count() > 1 {
        return Err(OAuthError::invalid_request("Send one Authorization header."));
    }
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let assertion = params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some();
    match req.basic_credentials() {
        Some(Err(())) => Err(OAuthError::invalid_client().with_basic_challenge(true)),
        Some(Ok((client_id, secret))) => {
            if body_secret.is_some() || assertion {
                return Err(OAuthError::invalid_request("Use only one client authentication method per request."));
            }
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_client().with_basic_challenge(true));
            }
            Ok(Presented::Basic { client_id, secret })
        }
        None if assertion => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request("Use only one client authentication method per request."));
            }
            Ok(Presented::Assertion { client_id: body_id.map(str::to_owned) })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Presented::Post { client_id: id.to_owned(), secret: secret.to_owned() }),
            (Some(id), None) => Ok(Presented::IdOnly { client_id: id.to_owned() }),
            // No client authentication at all (RFC 6749 §5.2).
            (None, _) => Err(OAuthError::invalid_client()),
        },
    }
}

/// The application the request authenticates as, or `invalid_client` (401; with a Basic
/// challenge when Basic was tried).
pub async fn authenticate(
    app: &App,
    environment_id: &str,
    req: &Request,
    params: &Params,
) -> Result<Application, OAuthError> {
    let presented = presented(req, params)?;
    let used_basic = matches!(presented, Presented::Basic { .. });
    let reject = || OAuthError::invalid_client().with_basic_challenge(used_basic);
    let client_id = match &presented {
        Presented::Basic { client_id, .. } | Presented::Post { client_id, .. } | Presented::IdOnly { client_id } => {
            client_id
        }
        Presented::Assertion { client_id: Some(id) } => id,
        Presented::Assertion { client_id: None } => return Err(reject()),
    };
    let Some(application) = app.application(environment_id, client_id).await? else {
        return Err(reject());
    };
    let secret_ok = |secret: &str| application.secret_matches(&app.hasher, secret, app.clock.now_ms());
    let ok = match (application.token_endpoint_auth_method, &presented) {
        (Method::None, Presented::IdOnly { .. }) => true,
        (Method::ClientSecretBasic, Presented::Basic { secret, .. }) => secret_ok(secret),
        (Method::ClientSecretPost, Presented::Post { secret, .. }) => secret_ok(secret),
        // JWT assertions (RFC 7523) are not verified yet: such clients cannot authenticate.
        _ => false,
    };
    if ok {
        Ok(application)
    } else {
        Err(reject())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderValue, AUTHORIZATION};

    fn req(basic: Option<&str>) -> Request {
        let mut r = Request::new(http::Method::POST, "/as/token");
        if let Some(b) = basic {
            r.headers.insert(AUTHORIZATION, HeaderValue::from_str(b).unwrap());
        }
        r
    }

    #[test]
    fn presented_credentials_are_classified() {
        let params = Params::parse(b"client_id=a&client_secret=s").unwrap();
        assert_eq!(
            presented(&req(None), &params).unwrap(),
            Presented::Post { client_id: "a".into(), secret: "s".into() }
        );
        let params = Params::parse(b"client_id=a").unwrap();
        assert_eq!(presented(&req(None), &params).unwrap(), Presented::IdOnly { client_id: "a".into() });
        // "a:s" in base64
        let basic = Some("Basic YTpz");
        assert_eq!(
            presented(&req(basic), &params).unwrap(),
            Presented::Basic { client_id: "a".into(), secret: "s".into() }
        );
        let other = Params::parse(b"client_id=b").unwrap();
        assert_eq!(presented(&req(basic), &other).unwrap_err().error, "invalid_client");
        let both = Params::parse(b"client_secret=s").unwrap();
        assert_eq!(presented(&req(basic), &both).unwrap_err().error, "invalid_request");
        let nothing = presented(&req(None), &Params::default()).unwrap_err();
        assert_eq!((nothing.error, nothing.status.as_u16()), ("invalid_client", 401));
        let mut twice = req(basic);
        twice.headers.append(AUTHORIZATION, HeaderValue::from_static("Basic YTpz"));
        assert_eq!(presented(&twice, &params).unwrap_err().error, "invalid_request");
        let broken = presented(&req(Some("Basic %%%")), &params).unwrap_err();
        assert_eq!((broken.error, broken.www_authenticate.is_some()), ("invalid_client", true));
    }
}
