//! The grants: pure domain logic over the store, one file per grant, and the token response they
//! share.

pub mod device_code;

use serde::Serialize;

use crate::app::{App, Dialect};
use crate::codes::random_token;
use crate::error::OAuthError;
use crate::hashing::Purpose;
use crate::model::{Application, GrantType};
use crate::store::Subject;
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

/// A refresh token to hand out and the hash to store for it.
pub struct RefreshToken {
    pub token: String,
    pub hash: String,
}

/// A fresh refresh token bound to `grant_id` (which the token carries, so the grant can be found
/// from it), if the application may refresh.
pub fn new_refresh_token(app: &App, application: &Application, grant_id: &str) -> Option<RefreshToken> {
    if !application.allows(GrantType::RefreshToken) {
        return None;
    }
    let secret = random_token(&*app.random, 32);
    let hash = app.hasher.digest(Purpose::RefreshToken, grant_id, &secret);
    Some(RefreshToken { token: format!("{grant_id}.{secret}"), hash })
}

/// Signs the access token (RFC 9068) and, when `openid` was granted, the ID token.
pub fn issue_tokens(
    app: &App,
    dialect: Dialect,
    environment_id: &str,
    application: &Application,
    subject: &Subject,
    scopes: &[String],
    refresh_token: Option<String>,
) -> TokenResponse {
    let issuer = app.issuer(dialect, environment_id);
    let now = app.clock.now_s();
    let exp = now + i64::from(application.access_token_lifetime);
    let scope = scopes.join(" ");
    let access = AccessTokenClaims {
        iss: &issuer,
        sub: &subject.user_id,
        aud: &issuer,
        exp,
        iat: now,
        jti: random_token(&*app.random, 16),
        client_id: &application.client_id,
        scope: scope.clone(),
        auth_time: subject.auth_time,
        sid: &subject.session_id,
        amr: ["pwd"],
        acr: ACR_SINGLE_FACTOR,
    };
    let access_token = app.signer.sign(application.token_signing_alg, "at+jwt", &access);
    let granted = |s: &str| scopes.iter().any(|x| x == s);
    let id_token = granted("openid").then(|| {
        let profile_scope = granted("profile");
        let claims = IdTokenClaims {
            iss: &issuer,
            sub: &subject.user_id,
            aud: &application.client_id,
            exp,
            iat: now,
            auth_time: subject.auth_time,
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
}
