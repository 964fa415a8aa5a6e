//! Client authentication (RFC 6749 §2.3, RFC 7523, PING-COMPAT §3.1, PING-MGMT §10) at every
//! endpoint that authenticates clients: token, device authorization, introspection, revocation.
//!
//! What the request presents (`presented`) -> the method the application registered -> one
//! verifier per method. Exactly one method per request, and it must be the application's; every
//! failure is the same 401 `invalid_client` (with a Basic challenge when Basic was tried), and
//! only the log says which check failed, never with the credential.

mod assertion;
pub mod jwks;
pub mod jws;
mod mtls;

use crate::app::{App, Endpoint};
use crate::context::Context;
use crate::error::OAuthError;
use crate::hashing::Purpose;
use crate::http::{Params, Request};
use crate::model::{Application, TokenEndpointAuthMethod as Method};
pub use assertion::JWT_BEARER;
use jws::Jws;

/// The credentials a request carries.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
    },
    /// `client_assertion` (RFC 7521 §4.2), with the optional `client_id`.
    Assertion {
        client_id: Option<String>,
        assertion_type: Option<String>,
        assertion: Option<String>,
    },
    IdOnly {
        client_id: String,
    },
}

fn presented(req: &Request, params: &Params) -> Result<Presented, OAuthError> {
    if req.headers.get_all(http::header::AUTHORIZATION).iter().count() > 1 {
        return Err(OAuthError::invalid_request("Send one Authorization header."));
    }
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let assertion_type = params.get("client_assertion_type");
    let asserted = assertion.is_some() || assertion_type.is_some();
    let one_method = || OAuthError::invalid_request("Use only one client authentication method per request.");
    match req.basic_credentials() {
        Some(Err(())) => Err(OAuthError::invalid_client().with_basic_challenge(true)),
        Some(Ok((client_id, secret))) => {
            if body_secret.is_some() || asserted {
                return Err(one_method());
            }
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_client().with_basic_challenge(true));
            }
            Ok(Presented::Basic { client_id, secret })
        }
        None if asserted => {
            if body_secret.is_some() {
                return Err(one_method());
            }
            Ok(Presented::Assertion {
                client_id: body_id.map(str::to_owned),
                assertion_type: assertion_type.map(str::to_owned),
                assertion: assertion.map(str::to_owned),
            })
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Presented::Post { client_id: id.to_owned(), secret: secret.to_owned() }),
            (Some(id), None) => Ok(Presented::IdOnly { client_id: id.to_owned() }),
            // No client authentication at all (RFC 6749 §5.2).
            (None, _) => Err(OAuthError::invalid_client()),
        },
    }
}

/// Why authentication failed, for the log.
type Refusal = &'static str;

/// The application the request authenticates as at `endpoint`, or `invalid_client` (401; with a
/// Basic challenge when Basic was tried). Store failures are 503s, not refusals.
pub async fn authenticate(
    ctx: &Context<'_>,
    endpoint: Endpoint,
    req: &Request,
    params: &Params,
) -> Result<Application, OAuthError> {
    let presented = presented(req, params)?;
    let used_basic = matches!(presented, Presented::Basic { .. });
    let (client_id, parsed) = match &presented {
        Presented::Basic { client_id, .. } | Presented::Post { client_id, .. } | Presented::IdOnly { client_id } => {
            (Some(client_id.clone()), None)
        }
        Presented::Assertion { client_id, assertion_type, assertion } => {
            match read_assertion(assertion_type, assertion) {
                Ok(jws) => {
                    let iss = assertion::issuer(&jws.claims).map(str::to_owned);
                    // RFC 7521 §4.2: a `client_id` beside an assertion must name its issuer.
                    let consistent = client_id.is_none() || client_id.as_deref() == iss.as_deref();
                    (iss.filter(|_| consistent), Some(jws))
                }
                Err(reason) => return Err(refuse(ctx, client_id.as_deref(), reason, used_basic)),
            }
        }
    };
    let Some(client_id) = client_id else {
        return Err(refuse(ctx, None, "the client is not named (or client_id differs from iss)", used_basic));
    };
    let client_id = client_id.as_str();
    let Some(application) = ctx.app.application(ctx.environment_id(), client_id).await? else {
        return Err(refuse(ctx, Some(client_id), "no enabled application has this client id", used_basic));
    };
    let app = ctx.app;
    let now_ms = app.clock.now_ms();
    let secret_ok = |secret: &str| application.secret_matches(&app.hasher, secret, now_ms);
    let verdict: Result<(), Refusal> = match (application.token_endpoint_auth_method, &presented, parsed) {
        (Method::None, Presented::IdOnly { .. }, _) => Ok(()),
        (Method::ClientSecretBasic, Presented::Basic { secret, .. }, _)
        | (Method::ClientSecretPost, Presented::Post { secret, .. }, _) => {
            if secret_ok(secret) {
                Ok(())
            } else {
                Err("the secret does not match")
            }
        }
        (Method::ClientSecretJwt | Method::PrivateKeyJwt, Presented::Assertion { .. }, Some(jws)) => {
            verify_assertion(ctx, endpoint, &application, &jws).await?
        }
        (Method::TlsClientAuth, Presented::IdOnly { .. }, _) => mtls::verify_pki(&application, req, now_ms / 1000),
        (Method::SelfSignedTlsClientAuth, Presented::IdOnly { .. }, _) => {
            mtls::verify_self_signed(app, &application, req, now_ms / 1000).await
        }
        _ => Err("the credential presented is not of the application's tokenEndpointAuthMethod"),
    };
    let mut application = application;
    let verdict = verdict.and_then(|()| {
        application.bound_certificate = mtls::binding(&application, req)?;
        Ok(())
    });
    match verdict {
        Ok(()) => Ok(application),
        Err(reason) => Err(refuse(ctx, Some(client_id), reason, used_basic)),
    }
}

fn refuse(ctx: &Context<'_>, client_id: Option<&str>, reason: Refusal, used_basic: bool) -> OAuthError {
    tracing::info!(environment_id = ctx.environment_id(), client_id, reason, "client authentication failed");
    OAuthError::invalid_client().with_basic_challenge(used_basic)
}

/// The largest `client_assertion` read, bytes (a JWS of a few claims is well under 2 KiB).
const MAX_ASSERTION_LEN: usize = 16 * 1024;

fn read_assertion(assertion_type: &Option<String>, assertion: &Option<String>) -> Result<Jws, Refusal> {
    if assertion_type.as_deref() != Some(JWT_BEARER) {
        return Err("client_assertion_type is not urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    }
    let assertion = assertion.as_deref().ok_or("client_assertion is missing")?;
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err("client_assertion is too long");
    }
    Jws::parse(assertion).map_err(|e| match e {
        jws::JwsError::Malformed(why) => why,
        jws::JwsError::Algorithm(_) => "alg is none or not one we accept",
        jws::JwsError::Critical => "the header has crit extensions",
    })
}

/// RFC 7523 §3: the signature under the application's secret or keys, the claims, and single
/// use of the `jti` (last, so only a valid assertion costs a store write). The outer `Err` is a
/// store failure.
async fn verify_assertion(
    ctx: &Context<'_>,
    endpoint: Endpoint,
    application: &Application,
    jws: &Jws,
) -> Result<Result<(), Refusal>, OAuthError> {
    let app = ctx.app;
    let now_s = app.clock.now_s();
    let signed = match application.token_endpoint_auth_method {
        Method::ClientSecretJwt => verify_with_secret(app, application, jws, now_s),
        _ => verify_with_keys(app, application, jws, now_s).await,
    };
    if let Err(reason) = signed {
        return Ok(Err(reason));
    }
    let env = ctx.environment_id();
    let mut audiences = vec![app.issuer(ctx.dialect, env)];
    for e in [Endpoint::Token, endpoint] {
        audiences.push(app.endpoint_url(ctx.dialect, env, e));
        audiences.extend(app.mtls_endpoint_url(ctx.dialect, env, e));
    }
    let accepted = match assertion::check(&jws.claims, &application.client_id, &audiences, now_s) {
        Ok(accepted) => accepted,
        Err(reason) => return Ok(Err(reason)),
    };
    let key = app.hasher.digest(Purpose::ClientAssertion, env, &format!("{}\n{}", application.client_id, accepted.jti));
    if app.store.claim_assertion(&key, accepted.remember_until, now_s).await? {
        Ok(Ok(()))
    } else {
        Ok(Err("the assertion was used before (jti replayed)"))
    }
}

/// client_secret_jwt: HS256/384/512 keyed with the current secret or the unexpired previous one.
fn verify_with_secret(app: &App, application: &Application, jws: &Jws, now_s: i64) -> Result<(), Refusal> {
    if !jws.alg.symmetric() {
        return Err("CLIENT_SECRET_JWT takes HS256, HS384 or HS512 only");
    }
    let (current, previous) = application.secrets(&app.hasher, now_s * 1000).ok_or("the application has no secret")?;
    // Both tried, so the time does not tell which matched.
    let current_ok = jws.verify_secret(current.as_bytes());
    let previous_ok = previous.is_some_and(|(p, _)| jws.verify_secret(p.as_bytes()));
    if current_ok | previous_ok {
        Ok(())
    } else {
        Err("the HMAC does not verify under the client secret")
    }
}

/// The application's registered keys: its `jwks`, or those at its `jwksUrl` (fetched again
/// early when `kid` is not among the cached ones).
async fn client_keys(
    app: &App,
    application: &Application,
    kid: Option<&str>,
    now_s: i64,
) -> Result<std::sync::Arc<Vec<jws::Jwk>>, Refusal> {
    match (&application.jwks, &application.jwks_url) {
        (Some(inline), _) => {
            Ok(std::sync::Arc::new(jws::parse_jwks(inline.as_bytes()).map_err(|_| "the registered jwks is invalid")?))
        }
        (None, Some(url)) => {
            app.jwks.keys(&app.settings, url, kid, now_s).await.map_err(|_| "the jwksUrl gave no keys")
        }
        (None, None) => Err("the application has neither jwks nor jwksUrl"),
    }
}

/// private_key_jwt: an asymmetric algorithm and a key of the application's `jwks` or `jwksUrl`
/// (chosen by `kid` when the header has one, else any key that fits the algorithm).
async fn verify_with_keys(app: &App, application: &Application, jws: &Jws, now_s: i64) -> Result<(), Refusal> {
    if jws.alg.symmetric() {
        return Err("PRIVATE_KEY_JWT takes RS*, PS* or ES* only, never HS*");
    }
    let kid = jws.kid.as_deref();
    let keys = client_keys(app, application, kid, now_s).await?;
    let candidates: Vec<_> = keys.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).collect();
    if candidates.is_empty() {
        return Err("no key has the assertion's kid");
    }
    if candidates.iter().any(|key| jws.verify_key(key)) {
        Ok(())
    } else {
        Err("the signature does not verify under the application's keys")
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
