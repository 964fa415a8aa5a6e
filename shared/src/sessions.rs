//! The `ST` session cookie PingOne sets at sign-on: a sealed (MAC'd) record of who signed in and
//! when, bound to the environment. A new session id is drawn at every sign-on (no fixation).

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::hashing::Purpose;
use crate::http::Request;

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

    /// The `Set-Cookie` value carrying this session.
    pub fn set_cookie(&self, app: &App, environment_id: &str) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let sealed = app.hasher.seal(Purpose::SessionCookie, environment_id, &payload);
        let secure = if app.settings.insecure_loopback() { "" } else { "; Secure" };
        format!(
            "{SESSION_COOKIE}={sealed}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            (self.exp - app.clock.now_s()).max(0)
        )
    }
}
