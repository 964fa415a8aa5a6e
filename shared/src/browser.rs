//! The browser key: a random secret each browser (or cookie-keeping client) holds in an
//! `HttpOnly` cookie. Flows are bound to it when they start (the flow id carries its MAC), and the
//! pages' CSRF tokens are derived from it, so a flow id or a form token is worth nothing in
//! another browser (RFC 9700 §4.7, RFC 6749 §10.12).

use http::header::{HeaderValue, SET_COOKIE};

use crate::app::App;
use crate::hashing::Purpose;
use crate::http::{Params, Request, Response};

pub const BROWSER_COOKIE: &str = "browser_key";

/// The `Secure` attribute of our cookies: on everywhere but plain-http loopback.
pub fn secure_attribute(app: &App) -> &'static str {
    if app.settings.insecure_loopback() {
        ""
    } else {
        "; Secure"
    }
}

/// Length of a flow's binding to its browser key, bytes (128 bits).
pub const BINDING_LEN: usize = 16;

/// Random bytes in a new key (base64url: 43 characters).
const KEY_BYTES: usize = 32;

/// Verified-code cookies (`flows::verified`) read per request: beyond these, the oldest flows'
/// codes are typed again.
const MAX_HELD: usize = 16;

/// This request's browser key: the one its cookie holds, or a new one to set; and the
/// verified-code cookies the browser holds for its flows.
pub struct BrowserKey {
    secret: String,
    new: bool,
    held: Vec<(String, String)>,
}

impl BrowserKey {
    pub fn of(app: &App, req: &Request) -> Self {
        let held = req
            .cookies()
            .filter(|(name, _)| name.starts_with(crate::flows::verified::COOKIE_PREFIX))
            .take(MAX_HELD)
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        match req.cookie(BROWSER_COOKIE).filter(|v| v.len() >= 43 && v.len() <= 64) {
            Some(secret) => Self { secret: secret.to_owned(), new: false, held },
            None => Self { secret: crate::codes::random_token(&*app.random, KEY_BYTES), new: true, held },
        }
    }

    /// The value of the cookie `name` this browser holds among its verified codes.
    pub fn held(&self, name: &str) -> Option<&str> {
        self.held.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the request brought no key (this answer sets one).
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// What a flow started by this browser in `environment_id` carries.
    pub fn binding(&self, app: &App, environment_id: &str) -> [u8; BINDING_LEN] {
        let tag = app.hasher.mac(Purpose::FlowBinding, environment_id, self.secret.as_bytes());
        let mut out = [0u8; BINDING_LEN];
        out.copy_from_slice(&tag[..BINDING_LEN]);
        out
    }

    /// Whether a flow carrying `binding` belongs to this browser (constant time). A key this
    /// request only just drew belongs to no flow.
    pub fn owns(&self, app: &App, environment_id: &str, binding: &[u8]) -> bool {
        !self.new
            && aws_lc_rs::constant_time::verify_slices_are_equal(&self.binding(app, environment_id), binding).is_ok()
    }

    /// The token a form for `context` (a flow id, or "grants") must carry.
    pub fn csrf_token(&self, app: &App, context: &str) -> String {
        app.hasher.digest(Purpose::Csrf, context, &self.secret)
    }

    /// Whether the form carries this browser's token for `context` (double submit).
    pub fn csrf_ok(&self, app: &App, context: &str, form: &Params) -> bool {
        !self.new && form.get("csrf").is_some_and(|t| app.hasher.verify(Purpose::Csrf, context, &self.secret, t))
    }

    /// Adds the cookie to `response` when the request had none. Session-long (no `Max-Age`):
    /// flows live 15 minutes and the key means nothing without them.
    pub fn finish(&self, app: &App, mut response: Response) -> Response {
        if self.new {
            let secure = secure_attribute(app);
            let cookie = format!("{BROWSER_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}", self.secret);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}
