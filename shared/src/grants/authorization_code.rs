//! The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636) and OpenID Connect
//! (Core §3.1): the request's validation, the code's issue at `/as/resume`, its redemption.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

use crate::app::App;
use crate::audit::{Action, Status};
use crate::error::OAuthError;
use crate::grants::{issue_tokens, refresh, requested_scopes, Issue, TokenResponse, ACR_SINGLE_FACTOR};
use crate::hashing::Purpose;
use crate::http::{encode_query_value, Params};
use crate::model::{Application, GrantType, PkceEnforcement};
use crate::store::{AuthorizeRequest, CodeGrant, CodeProof, CodeRedemption, FlowRecord, GrantKind};

/// Authorization codes live 60 seconds (PingFederate's default).
pub const CODE_LIFETIME_S: i64 = 60;

/// The longest free-text parameters an authorization request may carry: they are stored with
/// its flow before anyone has signed on, so an unauthenticated caller stores little.
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;
/// The longest email address (RFC 5321 §4.5.3.1: 64 + 1 + 255).
pub const MAX_LOGIN_HINT_LEN: usize = 320;

/// A refused authorization request: before the client and its redirect URI are trusted the
/// person sees a page; afterwards the client gets the error at its redirect URI.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    Page(String),
    Redirect(String),
    /// The store could not be reached: a 503 page; the same request may be sent again.
    Unavailable,
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Default,
    None,
    Login,
    Consent,
}

/// The error redirect (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_redirect(request: &AuthorizeRequest, error: &str, description: &str) -> String {
    let mut url = format!(
        "{}{}error={}&error_description={}",
        request.redirect_uri,
        if request.redirect_uri.contains('?') { '&' } else { '?' },
        error,
        encode_query_value(description)
    );
    if let Some(state) = &request.state {
        url.push_str(&format!("&state={}", encode_query_value(state)));
    }
    url.push_str(&format!("&iss={}", encode_query_value(&request.issuer)));
    url
}

/// The success redirect with the code.
pub fn code_redirect(request: &AuthorizeRequest, code: &str) -> String {
    let mut url = format!(
        "{}{}code={}",
        request.redirect_uri,
        if request.redirect_uri.contains('?') { '&' } else { '?' },
        encode_query_value(code)
    );
    if let Some(state) = &request.state {
        url.push_str(&format!("&state={}", encode_query_value(state)));
    }
    url.push_str(&format!("&iss={}", encode_query_value(&request.issuer)));
    url
}

fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Validates an authorization request; `issuer` is that of the dialect it came in.
pub async fn validate(
    app: &App,
    environment_id: &str,
    issuer: String,
    params: &Params,
) -> Result<(Application, AuthorizeRequest, Prompt), AuthorizeError> {
    let page = |m: &str| AuthorizeError::Page(m.to_owned());
    let client_id = params.get("client_id").ok_or_else(|| page("The request has no client_id."))?;
    let application = app
        .application(environment_id, client_id)
        .await
        .map_err(|_| AuthorizeError::Unavailable)?
        .ok_or_else(|| page("The application (client_id) is not known."))?;
    let redirect_uri = params.get("redirect_uri").ok_or_else(|| page("The request has no redirect_uri."))?;
    // Exact string match against the registered URIs (RFC 9700 §4.1.3).
    if !application.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(page("The redirect_uri is not registered for this application."));
    }
    let state = params.get("state");
    let mut request = AuthorizeRequest {
        issuer,
        client_id: application.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes: Vec::new(),
        state: state.filter(|s| s.len() <= MAX_STATE_LEN).map(str::to_owned),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: None,
        code_challenge_method: None,
        force_login: false,
        force_consent: false,
        ask_consent: application.require_consent,
        max_age: None,
        login_hint: params.get("login_hint").map(str::to_owned),
    };
    let fail = |request: &AuthorizeRequest, error: &str, description: &str| {
        AuthorizeError::Redirect(error_redirect(request, error, description))
    };
    // RFC 6749 §4.1.2.1: too long to keep is a malformed request (an oversized state is left
    // out of the answer too).
    if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(fail(&request, "invalid_request", &format!("state must be at most {MAX_STATE_LEN} characters.")));
    }
    if request.nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE_LEN) {
        return Err(fail(&request, "invalid_request", &format!("nonce must be at most {MAX_NONCE_LEN} characters.")));
    }
    if request.login_hint.as_ref().is_some_and(|h| h.len() > MAX_LOGIN_HINT_LEN) {
        let description = format!("login_hint must be at most {MAX_LOGIN_HINT_LEN} characters.");
        return Err(fail(&request, "invalid_request", &description));
    }
    match params.get("response_type") {
        None => return Err(fail(&request, "invalid_request", "The response_type parameter is required.")),
        Some("code") => {}
        Some(_) => return Err(fail(&request, "unsupported_response_type", "Only response_type=code is supported.")),
    }
    if params.get("request").is_some() {
        return Err(fail(&request, "request_not_supported", "Request objects are not supported."));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(&request, "request_uri_not_supported", "request_uri is not supported."));
    }
    if !application.allows(GrantType::AuthorizationCode) {
        return Err(fail(&request, "unauthorized_client", "The application may not use the authorization code grant."));
    }
    request.scopes =
        requested_scopes(&application, params.get("scope")).map_err(|e| fail(&request, e.error, &e.description))?;
    // PKCE (RFC 7636 §4.3) under the application's pkceEnforcement.
    if let Some(challenge) = params.get("code_challenge") {
        let method = params.get("code_challenge_method").unwrap_or("plain");
        if method != "S256" && method != "plain" {
            return Err(fail(&request, "invalid_request", "code_challenge_method must be S256 or plain."));
        }
        if !is_pkce_value(challenge) {
            return Err(fail(&request, "invalid_request", "The code_challenge is malformed."));
        }
        if application.pkce_enforcement == PkceEnforcement::S256Required && method != "S256" {
            return Err(fail(&request, "invalid_request", "This application requires code_challenge_method=S256."));
        }
        request.code_challenge = Some(challenge.to_owned());
        request.code_challenge_method = Some(method.to_owned());
    } else if application.pkce_enforcement != PkceEnforcement::Optional {
        return Err(fail(&request, "invalid_request", "This application requires PKCE (code_challenge)."));
    }
    if let Some(max_age) = params.get("max_age") {
        let age = max_age.parse::<i64>().ok().filter(|a| *a >= 0);
        request.max_age =
            Some(age.ok_or_else(|| fail(&request, "invalid_request", "max_age must be a number of seconds."))?);
    }
    if let Some(acr) = params.get("acr_values") {
        if !acr.split(' ').any(|a| a == ACR_SINGLE_FACTOR) {
            return Err(fail(
                &request,
                "invalid_request",
                "None of the requested acr_values is a sign-on policy of this application.",
            ));
        }
    }
    let prompt = match params.get("prompt") {
        None => Prompt::Default,
        Some("none") => Prompt::None,
        Some("login") => Prompt::Login,
        Some("consent") => Prompt::Consent,
        Some(_) => return Err(fail(&request, "invalid_request", "prompt must be none, login or consent.")),
    };
    // OIDC Core §3.1.2.1: max_age=0 is prompt=login.
    request.force_login = prompt == Prompt::Login || request.max_age == Some(0);
    request.force_consent = prompt == Prompt::Consent;
    request.ask_consent |= request.force_consent;
    Ok((application, request, prompt))
}

/// Whether a sign-on at `auth_time` is recent enough for the request.
pub fn fresh_enough(request: &AuthorizeRequest, auth_time: i64, now_s: i64) -> bool {
    request.max_age.is_none_or(|max| now_s - auth_time <= max)
}

/// Issues the code of a completed, consented flow, once. `None` if it was issued already.
pub async fn issue_code(app: &App, flow: &FlowRecord) -> Result<Option<String>, OAuthError> {
    let (Some(request), Some(user)) = (&flow.authorize, &flow.user) else {
        return Ok(None);
    };
    // The flow's own code, so that resuming again after a lost answer gives the same code (the
    // store writes it once, and again only while it is unredeemed); unguessable without the key.
    let code = B64.encode(app.hasher.mac(Purpose::AuthorizationCode, "code of flow", flow.flow_id.as_bytes()));
    let now_ms = app.clock.now_ms();
    let grant = CodeGrant {
        grant_id: app.hasher.digest(Purpose::AuthorizationCode, "", &code),
        environment_id: flow.environment_id.clone(),
        request: request.clone(),
        subject: user.subject(),
        created_ms: now_ms,
        expires_at: now_ms.div_euclid(1000) + CODE_LIFETIME_S,
        redeemed_ms: None,
        rt_generation: None,
        revoked_ms: None,
    };
    let issued = app.store.resume_flow(&flow.flow_id, &grant, now_ms).await?;
    if issued {
        app.audit(&flow.environment_id, Action::CodeIssued, Status::Success, "Authorization code issued.")
            .client(&request.client_id)
            .user(&user.id)
            .resource("FLOW", &flow.flow_id)
            .resource("GRANT", &grant.grant_id)
            .emit();
    }
    Ok(issued.then_some(code))
}

/// The PKCE keys (`AuthorizeRequest::pkce_key`) a presented verifier answers: S256 and plain for a
/// well-formed verifier, `none` without one (RFC 7636 §4.6). A verifier without a challenge is a
/// PKCE downgrade (RFC 9700 §2.1.1) and answers nothing.
fn pkce_keys(verifier: Option<&str>) -> Vec<String> {
    match verifier {
        None => vec!["none".to_owned()],
        Some(v) if is_pkce_value(v) => {
            vec![format!("S256:{}", B64.encode(digest::digest(&digest::SHA256, v.as_bytes()))), format!("plain:{v}")]
        }
        Some(_) => vec!["malformed".to_owned()],
    }
}

/// The token endpoint's `authorization_code` grant. The code is spent only by a request whose
/// client, redirect URI, issuer and PKCE verifier all match (one conditional write); a replayed
/// code revokes every token issued from it (RFC 6749 §4.1.2).
pub async fn redeem(
    app: &App,
    issuer: String,
    application: &Application,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if !application.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client("authorization_code"));
    }
    let code = params.get("code").ok_or_else(|| OAuthError::invalid_request("The code parameter is required."))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("The redirect_uri parameter is required."))?;
    let grant_id = app.hasher.digest(Purpose::AuthorizationCode, "", code);
    let with_refresh = application.allows(GrantType::RefreshToken);
    let now_ms = app.clock.now_ms();
    let lifetime = if with_refresh { application.refresh_token_lifetime } else { application.access_token_lifetime };
    let keep_until = now_ms.div_euclid(1000) + i64::from(lifetime);
    let proof = CodeProof {
        client_id: application.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        issuer: issuer.clone(),
        pkce: pkce_keys(params.get("code_verifier")),
    };
    let grant = match app.store.redeem_code(&grant_id, &proof, now_ms, with_refresh, keep_until).await? {
        CodeRedemption::Redeemed(grant) => grant,
        CodeRedemption::Replayed => {
            app.store.revoke_family(GrantKind::Code, &grant_id, now_ms).await?;
            let description = "The authorization code was redeemed twice; the tokens issued from it are revoked.";
            app.audit(&application.environment_id, Action::ReuseDetected, Status::Failed, description)
                .client(&application.client_id)
                .resource("GRANT", &grant_id)
                .emit();
            return Err(OAuthError::invalid_grant(
                "The authorization code was already used; the tokens issued from it are revoked.",
            ));
        }
        CodeRedemption::Mismatch(grant) => return Err(mismatch(&grant.request, &proof)),
        CodeRedemption::Invalid => {
            return Err(OAuthError::invalid_grant("The authorization code is invalid or expired."))
        }
    };
    let kind = GrantKind::Code;
    Ok(issue_tokens(
        app,
        Issue {
            issuer,
            application,
            subject: Some(&grant.subject),
            scopes: &grant.request.scopes,
            nonce: grant.request.nonce.as_deref(),
            family: Some((kind, &grant.grant_id)),
            refresh_token: with_refresh.then(|| refresh::issue(app, kind, &grant.grant_id, 0)),
        },
    ))
}

/// What a redemption that spent nothing got wrong.
fn mismatch(request: &AuthorizeRequest, proof: &CodeProof) -> OAuthError {
    if request.redirect_uri != proof.redirect_uri {
        OAuthError::invalid_grant("The redirect_uri does not match the authorization request.")
    } else if request.issuer != proof.issuer {
        OAuthError::invalid_grant(
            "The authorization code was issued for another issuer; redeem it at its own token endpoint.",
        )
    } else {
        OAuthError::invalid_grant("The code_verifier does not match the code_challenge.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(challenge: Option<&str>, method: Option<&str>) -> AuthorizeRequest {
        AuthorizeRequest {
            issuer: "https://as".into(),
            client_id: "c".into(),
            redirect_uri: "https://app/cb".into(),
            scopes: vec![],
            state: Some("s t".into()),
            nonce: None,
            code_challenge: challenge.map(str::to_owned),
            code_challenge_method: method.map(str::to_owned),
            force_login: false,
            force_consent: false,
            ask_consent: false,
            max_age: None,
            login_hint: None,
        }
    }

    #[test]
    fn pkce_follows_rfc_7636() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let answers = |r: &AuthorizeRequest, v: Option<&str>| pkce_keys(v).contains(&r.pkce_key());
        let s256 = request(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), Some("S256"));
        assert!(answers(&s256, Some(verifier)));
        assert!(!answers(&s256, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj")));
        assert!(!answers(&s256, None));
        assert!(!answers(&s256, Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")), "the challenge is no verifier");
        assert!(!answers(&request(None, None), Some(verifier)), "no downgrade");
        assert!(answers(&request(Some(verifier), Some("plain")), Some(verifier)));
        assert!(answers(&request(None, None), None));
        assert!(!answers(&request(Some("short"), Some("plain")), Some("short")), "verifiers are 43-128 characters");
    }

    #[test]
    fn redirects_carry_state_and_iss() {
        let r = request(None, None);
        assert_eq!(code_redirect(&r, "abc"), "https://app/cb?code=abc&state=s+t&iss=https%3A%2F%2Fas");
        assert_eq!(
            error_redirect(&r, "access_denied", "No."),
            "https://app/cb?error=access_denied&error_description=No.&state=s+t&iss=https%3A%2F%2Fas"
        );
    }
}
