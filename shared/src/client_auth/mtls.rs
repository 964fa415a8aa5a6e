//! The mutual-TLS methods (RFC 8705 §2) and certificate-bound access tokens (§3). The
//! certificate comes from the TLS handshake: API Gateway's mutual TLS on Lambda, the local
//! server's TLS listener on a laptop (`crate::certificate`).

use super::Refusal;
use crate::app::App;
use crate::http::Request;
use crate::model::Application;

/// `tls_client_auth` (PingFederate's `CERTIFICATE`): a certificate that chains to the trust
/// anchors, is valid now, and has the registered subject and issuer DNs.
pub fn verify_pki(application: &Application, req: &Request, now_s: i64) -> Result<(), Refusal> {
    let cert = req.client_certificate.as_ref().ok_or("no client certificate was presented")?;
    let (Some(subject), Some(issuer)) =
        (&application.tls_client_auth_subject_dn, &application.tls_client_auth_issuer_dn)
    else {
        return Err("the application has no tlsClientAuthSubjectDn / tlsClientAuthIssuerDn");
    };
    if !cert.chain_verified() {
        return Err("the client certificate does not chain to a trusted CA");
    }
    if !cert.valid_at(now_s) {
        return Err("the client certificate is expired or not yet valid");
    }
    if !cert.matches_dns(subject, issuer) {
        return Err("the client certificate's subject or issuer DN is not the registered one");
    }
    Ok(())
}

/// `self_signed_tls_client_auth`: the certificate is one registered in the application's JWKS
/// (`x5c`, from `jwks` or `jwksUrl`). No chain, so neither trust anchors nor validity dates
/// matter: the registration is the trust (RFC 8705 §2.2).
pub async fn verify_self_signed(
    app: &App,
    application: &Application,
    req: &Request,
    now_s: i64,
) -> Result<(), Refusal> {
    let cert = req.client_certificate.as_ref().ok_or("no client certificate was presented")?;
    let keys = super::client_keys(app, application, None, now_s).await?;
    if keys.iter().filter_map(|k| k.x5c.first()).any(|x5c| cert.matches_x5c(x5c)) {
        Ok(())
    } else {
        Err("the client certificate is not one of the application's registered certificates")
    }
}

/// The thumbprint access tokens are bound to, for an application that asks for bound tokens
/// (`tlsClientCertificateBoundAccessTokens`); such a client must connect with its certificate.
pub fn binding(application: &Application, req: &Request) -> Result<Option<String>, Refusal> {
    if !application.tls_client_certificate_bound_access_tokens {
        return Ok(None);
    }
    let cert = req.client_certificate.as_ref().ok_or("bound access tokens need the client certificate")?;
    Ok(Some(cert.thumbprint_s256()))
}
