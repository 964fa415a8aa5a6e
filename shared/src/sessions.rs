//! The `ST` session cookie PingOne sets at sign-on: a sealed (MAC'd) record of who signed in and
//! when, bound to the environment. A new session id is drawn at every sign-on (no fixation).

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::hashing::Purpose;
use crate::http::Request;
use crate::model::User;
use crate::store::StoreResult;

pub const SESSION_COOKIE: &str = "ST";

/// How long a sign-on session lasts, seconds.
pub const SESSION_LIFETIME_S: i64 = 8 * 3600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub sid: String,
    pub sub: String,
    pub username: String,
    pub auth_time: i64,
    pub exp: i64,
}

impl Session {
    /// The session a request's `ST` cookie proves, if it is genuine, of this environment and live.
    pub fn from_request(app: &App, environment_id: &str, req: &Request) -> Option<Self> {
        let sealed = req.cookie(SESSION_COOKIE)?;
        let payload = app.hasher.open(Purpose::SessionCookie, environment_id, sealed)?;
        let session: Session = serde_json::from_slice(&payload).ok()?;
        (session.exp > app.clock.now_s()).then_some(session)
    }

    /// The request's session if it still stands: genuine, live, not ended (sign-off), its user
    /// known and enabled. One store request when there is a cookie.
    pub async fn standing(app: &App, environment_id: &str, req: &Request) -> StoreResult<Option<(Self, User)>> {
        let Some(session) = Self::from_request(app, environment_id, req) else {
            return Ok(None);
        };
        let user = app.store.session_user(environment_id, &session.sub, &session.sid).await?;
        Ok(user.filter(|u| u.enabled && u.id == session.sub).map(|u| (session, u)))
    }

    /// The `Set-Cookie` value that removes the session cookie (sign-off).
    pub fn clear_cookie(app: &App) -> String {
        let secure = crate::browser::secure_attribute(app);
        format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{secure}")
    }

    /// The `Set-Cookie` value carrying this session.
    pub fn set_cookie(&self, app: &App, environment_id: &str) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let sealed = app.hasher.seal(Purpose::SessionCookie, environment_id, &payload);
        let secure = crate::browser::secure_attribute(app);
        format!(
            "{SESSION_COOKIE}={sealed}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            (self.exp - app.clock.now_s()).max(0)
        )
    }
}
