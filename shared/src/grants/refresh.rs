//! Refresh tokens (RFC 6749 §6) that rotate on every use (RFC 9700 §4.14.2).
//!
//! A refresh token names its family (the grant it came from) and its generation, with a MAC
//! under the server key: `{d|c}.{grant_id}.{generation}.{mac}`. The store keeps only the family's
//! current generation, so nothing secret is stored, a forged token fails the MAC without a store
//! request, and a valid token of an older generation is a proven reuse: the family is revoked.

use crate::app::App;
use crate::audit::{Action, Status};
use crate::error::OAuthError;
use crate::grants::{issue_tokens, requested_scopes_within, Issue, TokenResponse};
use crate::hashing::Purpose;
use crate::model::Application;
use crate::store::{GrantKind, Rotation};

pub fn kind_tag(kind: GrantKind) -> &'static str {
    match kind {
        GrantKind::Device => "d",
        GrantKind::Code => "c",
    }
}

fn kind_of(tag: &str) -> Option<GrantKind> {
    match tag {
        "d" => Some(GrantKind::Device),
        "c" => Some(GrantKind::Code),
        _ => None,
    }
}

/// The refresh token of `generation` in the family of `grant_id`.
pub fn issue(app: &App, kind: GrantKind, grant_id: &str, generation: u32) -> String {
    let name = format!("{}.{grant_id}.{generation}", kind_tag(kind));
    let mac = app.hasher.digest(Purpose::RefreshToken, &name, "");
    format!("{name}.{mac}")
}

/// The family and generation a refresh token names, if it was issued here.
pub fn parse(app: &App, token: &str) -> Option<(GrantKind, String, u32)> {
    let (name, mac) = token.rsplit_once('.')?;
    if !app.hasher.verify(Purpose::RefreshToken, name, "", mac) {
        return None;
    }
    let mut parts = name.split('.');
    let kind = kind_of(parts.next()?)?;
    let grant_id = parts.next()?.to_owned();
    let generation = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((kind, grant_id, generation))
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("The refresh token is invalid, expired or revoked.")
}

/// The token endpoint's `refresh_token` grant: rotate, then mint (scopes may only narrow).
pub async fn refresh(
    app: &App,
    issuer: String,
    application: &Application,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let (kind, grant_id, generation) = parse(app, token).ok_or_else(invalid)?;
    // A narrowing request is checked before the token is spent (one read, only when asked).
    if scope.is_some_and(|s| !s.trim().is_empty()) {
        let family = app.store.family(kind, &grant_id).await?.ok_or_else(invalid)?;
        requested_scopes_within(&family.scopes, scope)?;
    }
    let now_s = app.clock.now_s();
    let keep_until = now_s + i64::from(application.refresh_token_lifetime);
    let client = &application.client_id;
    let rotation = app.store.rotate_refresh(kind, &grant_id, client, &issuer, generation, now_s, keep_until).await?;
    let family = match rotation {
        Rotation::Rotated(family) => family,
        Rotation::Stale => {
            // An older generation came back: someone holds a copy. Revoke everything.
            app.store.revoke_family(kind, &grant_id, app.clock.now_ms()).await?;
            let description = "An already rotated refresh token came back; its whole family is revoked.";
            app.audit(&application.environment_id, Action::ReuseDetected, Status::Failed, description)
                .client(client)
                .resource("GRANT", &grant_id)
                .emit();
            return Err(invalid());
        }
        Rotation::Invalid => return Err(invalid()),
    };
    let scopes = requested_scopes_within(&family.scopes, scope)?;
    let next = family.rt_generation.unwrap_or(generation + 1);
    app.audit(&application.environment_id, Action::RefreshRotated, Status::Success, "Refresh token rotated.")
        .client(client)
        .user(&family.subject.user_id)
        .resource("GRANT", &grant_id)
        .emit();
    Ok(issue_tokens(
        app,
        Issue {
            issuer,
            application,
            subject: Some(&family.subject),
            scopes: &scopes,
            nonce: None,
            family: Some((kind, &grant_id)),
            refresh_token: Some(issue(app, kind, &grant_id, next)),
        },
    ))
}
