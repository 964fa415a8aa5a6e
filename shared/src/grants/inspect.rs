//! What a presented token is worth: for introspection (RFC 7662), revocation (RFC 7009) and
//! userinfo. Access tokens are checked by signature, expiry and issuer (the dialect's: a token
//! is good only at the endpoints of the issuer that issued it), then against their family (a
//! revoked grant revokes its access tokens too) or, without a family (client credentials),
//! against the revoked tokens; refresh tokens by MAC and family.

use serde_json::Value;

use crate::app::{App, Dialect};
use crate::grants::refresh;
use crate::store::{Family, GrantKind, StoreResult};

/// A token this server issued that is still good.
#[derive(Debug)]
pub enum Live {
    Access { claims: Value, family: Option<Family> },
    Refresh { family: Family },
}

impl Live {
    pub fn client_id(&self) -> &str {
        match self {
            Live::Access { claims, .. } => claims["client_id"].as_str().unwrap_or_default(),
            Live::Refresh { family } => &family.client_id,
        }
    }

    pub fn family(&self) -> Option<&Family> {
        match self {
            Live::Access { family, .. } => family.as_ref(),
            Live::Refresh { family } => Some(family),
        }
    }
}

fn grant_of(claims: &Value) -> Option<(GrantKind, String)> {
    let (tag, id) = claims["gid"].as_str()?.split_once('.')?;
    let kind = match tag {
        "d" => GrantKind::Device,
        "c" => GrantKind::Code,
        _ => return None,
    };
    Some((kind, id.to_owned()))
}

/// The live token, or `None` for anything unknown, expired, revoked, of another environment or
/// of another issuer than `dialect`'s.
pub async fn inspect(app: &App, dialect: Dialect, environment_id: &str, token: &str) -> StoreResult<Option<Live>> {
    let now_s = app.clock.now_s();
    let issuer = app.issuer(dialect, environment_id);
    if let Some((kind, grant_id, generation)) = refresh::parse(app, token) {
        let family = app.store.family(kind, &grant_id).await?;
        return Ok(family
            .filter(|f| {
                f.environment_id == environment_id
                    && (f.issuer.is_empty() || f.issuer == issuer)
                    && !f.revoked
                    && f.expires_at > now_s
                    && f.rt_generation == Some(generation)
            })
            .map(|family| Live::Refresh { family }));
    }
    let Some(claims) = app.verify_token(token) else {
        return Ok(None);
    };
    let ours = dialect == Dialect::PingOne || environment_id == app.settings.default_environment_id;
    if !ours || claims["iss"].as_str() != Some(issuer.as_str()) || claims["client_id"].as_str().is_none() {
        return Ok(None);
    }
    let family = match grant_of(&claims) {
        Some((kind, id)) => match app.store.family(kind, &id).await? {
            Some(f) if !f.revoked => Some(f),
            _ => return Ok(None),
        },
        None => {
            let jti = claims["jti"].as_str().unwrap_or_default();
            if app.store.token_revoked(jti).await? {
                return Ok(None);
            }
            None
        }
    };
    Ok(Some(Live::Access { claims, family }))
}
