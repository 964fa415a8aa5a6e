//! The grants: pure domain logic over the store, one file per grant, and the token response they
//! share.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod inspect;
pub mod refresh;

use serde::Serialize;

use crate::app::App;
use crate::audit::{Action, Status};
use crate::codes::random_token;
use crate::error::OAuthError;
use crate::model::Application;
use crate::store::{GrantKind, Subject};
use crate::tokens::{at_hash, AccessTokenClaims, IdTokenClaims};

/// The sign-on policy every authentication here satisfies (PingOne's default policy name).
pub const ACR_SINGLE_FACTOR: &str = "Single_Factor";

/// Parses a `scope` parameter (RFC 6749 §3.3) against what the application may request.
/// Blank means no scopes; anything outside the application's scopes is `invalid_scope`.
pub fn requested_scopes(application: &Application, scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
        let well_formed = token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !well_formed || !application.scopes.iter().any(|s| s == token) {
            return Err(OAuthError::invalid_scope());
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

/// RFC 6749 §5.1 successful token response.
#[derive(Serialize, Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Scopes asked for on refresh: blank means all of `granted`; more than `granted` is
/// `invalid_scope` (RFC 6749 §6).
pub fn requested_scopes_within(granted: &[String], scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let asked: Vec<String> =
        scope.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    if asked.iter().all(|s| granted.contains(s)) {
        Ok(granted.iter().filter(|s| asked.contains(s)).cloned().collect())
    } else {
        Err(OAuthError::invalid_scope())
    }
}

/// What tokens are minted for.
pub struct Issue<'a> {
    pub issuer: String,
    pub application: &'a Application,
    /// The person; `None` for client credentials.
    pub subject: Option<&'a Subject>,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    /// The grant the tokens hang off (for revocation).
    pub family: Option<(GrantKind, &'a str)>,
    pub refresh_token: Option<String>,
}

/// Signs the access token (RFC 9068) and, when `openid` was granted to a person, the ID token.
pub fn issue_tokens(app: &App, issue: Issue<'_>) -> TokenResponse {
    let Issue { issuer, application, subject, scopes, nonce, family, refresh_token } = issue;
    let now = app.clock.now_s();
    let exp = now + i64::from(application.access_token_lifetime);
    let scope = scopes.join(" ");
    // A worker's own token (client credentials) is a platform-API token too.
    let worker = subject.is_none() && application.app_type == crate::model::AppType::Worker;
    let access = AccessTokenClaims {
        iss: &issuer,
        sub: subject.map_or(application.client_id.as_str(), |s| s.user_id.as_str()),
        aud: &issuer,
        exp,
        iat: now,
        jti: random_token(&*app.random, 16),
        client_id: &application.client_id,
        scope: scope.clone(),
        auth_time: subject.map(|s| s.auth_time),
        sid: subject.map(|s| s.session_id.as_str()),
        amr: subject.map(|_| ["pwd"]),
        acr: subject.map(|_| ACR_SINGLE_FACTOR),
        gid: family.map(|(kind, id)| format!("{}.{id}", refresh::kind_tag(kind))),
        env: worker.then_some(application.environment_id.as_str()),
        org: worker.then_some(crate::model::ORGANIZATION_ID),
        cnf: application.bound_certificate.as_deref().map(|x5t_s256| crate::tokens::Confirmation { x5t_s256 }),
    };
    let access_token = app.signer.sign(application.token_signing_alg, "at+jwt", &access);
    let granted = |s: &str| scopes.iter().any(|x| x == s);
    let id_token = subject.filter(|_| granted("openid")).map(|subject| {
        let profile_scope = granted("profile");
        let claims = IdTokenClaims {
            iss: &issuer,
            sub: &subject.user_id,
            aud: &application.client_id,
            exp,
            iat: now,
            auth_time: subject.auth_time,
            nonce,
            sid: &subject.session_id,
            amr: ["pwd"],
            acr: ACR_SINGLE_FACTOR,
            at_hash: at_hash(&access_token),
            preferred_username: profile_scope.then_some(subject.username.as_str()),
            given_name: subject.given_name.as_deref().filter(|_| profile_scope),
            family_name: subject.family_name.as_deref().filter(|_| profile_scope),
            email: subject.email.as_deref().filter(|_| granted("email")),
        };
        app.signer.sign(application.token_signing_alg, "JWT", &claims)
    });
    let mut event = app
        .audit(&application.environment_id, Action::TokenIssued, Status::Success, "Tokens issued.")
        .client(&application.client_id)
        .resource("ACCESS_TOKEN", &access.jti);
    if let Some(subject) = subject {
        event = event.user(&subject.user_id);
    }
    if let Some((_, grant_id)) = family {
        event = event.resource("GRANT", grant_id);
    }
    event.emit();
    TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: application.access_token_lifetime,
        scope,
        id_token,
        refresh_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_must_be_a_well_formed_subset() {
        let mut app = Application::new("env", "c", "C");
        app.scopes = vec!["openid".into(), "profile".into(), "email".into()];
        assert_eq!(requested_scopes(&app, None).unwrap(), Vec::<String>::new());
        assert_eq!(requested_scopes(&app, Some("openid  profile openid")).unwrap(), ["openid", "profile"]);
        for bad in ["admin", "openid admin", "open\"id", "OPENID"] {
            let err = requested_scopes(&app, Some(bad)).unwrap_err();
            assert_eq!(err.error, "invalid_scope", "{bad}");
            assert_eq!(err.description, "The requested scope(s) must be blank or a subset of the provided scopes.");
        }
    }

    #[test]
    fn refresh_scopes_may_only_narrow() {
        let granted = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(requested_scopes_within(&granted, None).unwrap(), granted);
        assert_eq!(requested_scopes_within(&granted, Some("email")).unwrap(), ["email"]);
        assert_eq!(requested_scopes_within(&granted, Some("email profile")).unwrap_err().error, "invalid_scope");
    }
}
