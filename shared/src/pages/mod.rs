//! The person's side as server-rendered pages (the PingOne hosted sign-on UI behind
//! `/{envId}/signon/?flowId=…`, reached from `/{envId}/device` and PingFederate's
//! `/as/user_authz.oauth2`). They drive the same flow engine as the flow API, in PingFederate's
//! order (seed 000): connect a device (code), authenticate, approve, result.
//!
//! Works without JavaScript; every form carries a CSRF token bound to a cookie (double submit).

pub mod grants;
pub mod html;
pub mod text;

use http::header::{HeaderValue, LOCATION, SET_COOKIE};
use http::StatusCode;

use self::html::{alert, code_input, esc, hidden, page, request_facts, scope_list};
use self::text::{Text, EN};
use crate::app::App;
use crate::codes::UserCode;
use crate::error::FlowError;
use crate::flows::{self, FlowAction, FlowStatus};
use crate::grants::authorization_code::fresh_enough;
use crate::hashing::Purpose;
use crate::http::{encode_query_value, Params, Request, Response};
use crate::sessions::Session;
use crate::store::{AuthorizeRequest, FlowRecord};

pub const CSRF_COOKIE: &str = "signon_csrf";

/// One page request: the app, the environment and the browser's CSRF secret.
pub struct Pages<'a> {
    pub app: &'a App,
    pub env: &'a str,
    pub text: &'static Text,
    csrf_secret: String,
    new_csrf_cookie: bool,
}

impl<'a> Pages<'a> {
    pub fn new(app: &'a App, env: &'a str, req: &Request) -> Self {
        let existing = req.cookie(CSRF_COOKIE).filter(|v| v.len() >= 32).map(str::to_owned);
        let new_csrf_cookie = existing.is_none();
        let csrf_secret = existing.unwrap_or_else(|| crate::codes::random_token(&*app.random, 32));
        Self { app, env, text: &EN, csrf_secret, new_csrf_cookie }
    }

    /// The token a form for `context` (a flow id, or "grants") must carry.
    pub fn csrf_token(&self, context: &str) -> String {
        self.app.hasher.digest(Purpose::Csrf, context, &self.csrf_secret)
    }

    pub fn csrf_ok(&self, context: &str, form: &Params) -> bool {
        !self.new_csrf_cookie
            && form.get("csrf").is_some_and(|t| self.app.hasher.verify(Purpose::Csrf, context, &self.csrf_secret, t))
    }

    /// Adds the CSRF cookie when this browser had none.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.new_csrf_cookie {
            let secure = if self.app.settings.insecure_loopback() { "" } else { "; Secure" };
            let cookie = format!("{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}", self.csrf_secret);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }

    pub fn signon_url(&self, flow_id: &str) -> String {
        format!("/{}/signon/?flowId={}", self.env, encode_query_value(flow_id))
    }

    /// `303 See Other` back to the page of a flow (post, redirect, get).
    fn see_flow(&self, flow_id: &str, session: Option<&Session>) -> Response {
        let mut response = http::Response::new(Vec::new());
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(location) = HeaderValue::from_str(&self.signon_url(flow_id)) {
            response.headers_mut().insert(LOCATION, location);
        }
        if let Some(session) = session {
            if let Ok(cookie) = HeaderValue::from_str(&session.set_cookie(self.app, self.env)) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
        }
        html::secure(crate::http::no_store(response))
    }

    fn form(&self, flow_id: &str, fields: &str, buttons: &str) -> String {
        format!(
            "<form method=\"post\" action=\"{action}\">{csrf}{fields}{buttons}</form>",
            action = esc(&self.signon_url(flow_id)),
            csrf = hidden("csrf", &self.csrf_token(flow_id)),
        )
    }

    pub fn message_page(&self, status: StatusCode, title: &str, body: &str) -> Response {
        page(self.text, self.env, status, title, &format!("<p id=\"result\">{}</p>", esc(body)))
    }

    pub fn invalid(&self) -> Response {
        self.message_page(StatusCode::NOT_FOUND, self.text.invalid_title, self.text.invalid_body)
    }

    pub fn unavailable(&self) -> Response {
        self.message_page(StatusCode::SERVICE_UNAVAILABLE, "Please try again", &FlowError::unavailable().message)
    }
}

/// What to show next for a flow.
enum Next {
    Show(Response),
    /// The flow moved on (session resumed, code confirmed by bypass): look again.
    Again(Box<FlowRecord>),
}

/// `GET /{envId}/signon/?flowId=…[&user_code=…]`.
pub async fn show(app: &App, env: &str, req: &Request) -> Response {
    let pages = Pages::new(app, env, req);
    let query = req.query_params().unwrap_or_default();
    let Some(flow_id) = query.get("flowId") else {
        return pages.finish(pages.invalid());
    };
    let response = match flows::load(app, env, flow_id).await {
        Ok(flow) => render(&pages, req, flow, query.get("user_code")).await,
        Err(e) if e.status == StatusCode::NOT_FOUND => pages.invalid(),
        Err(_) => pages.unavailable(),
    };
    pages.finish(response)
}

async fn render(pages: &Pages<'_>, req: &Request, mut flow: FlowRecord, prefill: Option<&str>) -> Response {
    for _ in 0..3 {
        match next(pages, req, &flow, prefill).await {
            Next::Show(response) => return response,
            Next::Again(moved) => flow = *moved,
        }
    }
    pages.unavailable()
}

async fn next(pages: &Pages<'_>, req: &Request, flow: &FlowRecord, prefill: Option<&str>) -> Next {
    let (app, env) = (pages.app, pages.env);
    if let Some(request) = &flow.authorize {
        return authorize_next(pages, req, flow, request).await;
    }
    match flows::status(flow) {
        FlowStatus::Completed => {
            return Next::Show(pages.message_page(StatusCode::OK, pages.text.approved_title, pages.text.approved_body))
        }
        FlowStatus::Failed => {
            return Next::Show(pages.message_page(StatusCode::OK, pages.text.denied_title, pages.text.denied_body))
        }
        _ => {}
    }
    if flow.device.is_none() {
        return Next::Show(match prefill.and_then(UserCode::parse) {
            Some(code) => match confirm_or_bypass(pages, req, flow, &code).await {
                Ok(Some(moved)) => return Next::Again(Box::new(moved)),
                Ok(None) => confirm_page(pages, flow, &code).await,
                Err(message) => code_page(pages, flow, &code.display(), Some(&message), StatusCode::OK),
            },
            None => code_page(pages, flow, "", None, StatusCode::OK),
        });
    }
    if flow.user.is_none() {
        if let Some(session) = Session::from_request(app, env, req) {
            let resumed =
                flows::perform(app, env, &flow.flow_id, FlowAction::ResumeSession { session }, req.source_ip).await;
            if let Ok(step) = resumed {
                return Next::Again(Box::new(step.flow));
            }
        }
        return Next::Show(login_page(pages, flow, "", None, StatusCode::OK));
    }
    Next::Show(approval_page(pages, flow).await)
}

/// The pages of an authorization request: sign in (or reuse the session), consent, then back to
/// `/as/resume`, which returns the browser to the application.
async fn authorize_next(pages: &Pages<'_>, req: &Request, flow: &FlowRecord, request: &AuthorizeRequest) -> Next {
    let (app, env) = (pages.app, pages.env);
    match flows::status(flow) {
        FlowStatus::Completed | FlowStatus::Failed => {
            let mut response = http::Response::new(Vec::new());
            *response.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(location) = HeaderValue::from_str(&crate::flows::view::resume_url(app, flow)) {
                response.headers_mut().insert(LOCATION, location);
            }
            return Next::Show(html::secure(crate::http::no_store(response)));
        }
        FlowStatus::UsernamePasswordRequired => {
            let now_s = app.clock.now_s();
            let session = Session::from_request(app, env, req)
                .filter(|s| !request.force_login && fresh_enough(request, s.auth_time, now_s));
            if let Some(session) = session {
                let resumed =
                    flows::perform(app, env, &flow.flow_id, FlowAction::ResumeSession { session }, req.source_ip).await;
                if let Ok(step) = resumed {
                    return Next::Again(Box::new(step.flow));
                }
            }
            let hint = request.login_hint.as_deref().unwrap_or_default();
            return Next::Show(login_page(pages, flow, hint, None, StatusCode::OK));
        }
        _ => {}
    }
    let t = pages.text;
    let name = app.application(env, &request.client_id).await.ok().flatten().map(|a| a.name).unwrap_or_default();
    let buttons = decision_buttons(t);
    let body = format!(
        "<div class=\"facts\" id=\"request\"><strong>{name}</strong></div>{scopes}{form}",
        name = esc(&name),
        scopes = scope_list(t, &request.scopes),
        form = pages.form(&flow.flow_id, &hidden("step", "consent"), &buttons),
    );
    Next::Show(page(t, env, StatusCode::OK, t.authorize_title, &body))
}

/// With a code from the link: `Ok(Some(flow))` when confirmation is bypassed and the code was
/// taken, `Ok(None)` to ask for confirmation, `Err(message)` when the code cannot be used.
async fn confirm_or_bypass(
    pages: &Pages<'_>,
    req: &Request,
    flow: &FlowRecord,
    code: &UserCode,
) -> Result<Option<FlowRecord>, String> {
    let (app, env) = (pages.app, pages.env);
    let hash = app.hasher.digest(Purpose::UserCode, env, code.canonical());
    let entry = app.store.find_user_code(env, &hash).await.map_err(|e| FlowError::from(e).message)?;
    let Some(entry) = entry.filter(|e| flow.application_id.as_ref().is_none_or(|id| *id == e.client_id)) else {
        return Err("The code is not valid. Check the code shown on your device and try again.".into());
    };
    if entry.expires_at <= app.clock.now_s() {
        return Err("The code has expired. Start again on your device to get a new code.".into());
    }
    let application = app.application(env, &entry.client_id).await.ok().flatten();
    let bypass = app.settings.bypass_activation_code_confirmation
        || application.is_some_and(|a| a.bypass_activation_code_confirmation);
    if !bypass {
        return Ok(None);
    }
    let action = FlowAction::UserCodeVerify { user_code: code.canonical().to_owned() };
    match flows::perform(app, env, &flow.flow_id, action, req.source_ip).await {
        Ok(step) => Ok(Some(step.flow)),
        Err(e) => Err(error_text(&e)),
    }
}

/// The words of a flow error for a person.
fn error_text(e: &FlowError) -> String {
    e.details.first().map_or_else(|| e.message.clone(), |d| d.message.clone())
}

fn code_page(pages: &Pages<'_>, flow: &FlowRecord, value: &str, error: Option<&str>, status: StatusCode) -> Response {
    let t = pages.text;
    let body = format!(
        "<p>{intro}</p>{alert}{form}",
        intro = esc(t.connect_intro),
        alert = alert(error),
        form = pages.form(
            &flow.flow_id,
            &format!("{}{}", hidden("step", "code"), code_input(t, value, error.is_some())),
            &format!("<button type=\"submit\">{}</button>", esc(t.continue_button)),
        ),
    );
    page(t, pages.env, status, t.connect_title, &body)
}

async fn confirm_page(pages: &Pages<'_>, flow: &FlowRecord, code: &UserCode) -> Response {
    let t = pages.text;
    let (app, env) = (pages.app, pages.env);
    let hash = app.hasher.digest(Purpose::UserCode, env, code.canonical());
    let entry = app.store.find_user_code(env, &hash).await.ok().flatten();
    let facts = match &entry {
        Some(e) => {
            let name = app.application(env, &e.client_id).await.ok().flatten().map(|a| a.name).unwrap_or_default();
            format!(
                "{}{}",
                request_facts(t, &name, e.created_ms, app.clock.now_ms(), &e.requester),
                scope_list(t, &e.scopes)
            )
        }
        None => String::new(),
    };
    let body = format!(
        "<p>{intro}</p><p class=\"code\" id=\"shown-code\">{code}</p>{facts}<p class=\"muted\">{warn}</p>{form}\
         <p class=\"after\"><a href=\"{other}\">{not_mine}</a></p>",
        intro = esc(t.confirm_intro),
        code = esc(&code.display()),
        warn = esc(t.confirm_warning),
        form = pages.form(
            &flow.flow_id,
            &format!("{}{}", hidden("step", "code"), hidden("user_code", &code.display())),
            &format!("<button type=\"submit\" autofocus>{}</button>", esc(t.confirm_button)),
        ),
        other = esc(&pages.signon_url(&flow.flow_id)),
        not_mine = esc(t.not_my_code),
    );
    page(t, env, StatusCode::OK, t.confirm_title, &body)
}

fn login_page(
    pages: &Pages<'_>,
    flow: &FlowRecord,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = pages.text;
    let fields = format!(
        "{step}<label for=\"username\">{ul}</label><input type=\"text\" id=\"username\" name=\"username\" value=\"{u}\" \
         autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required autofocus>\
         <label for=\"password\">{pl}</label><input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>",
        step = hidden("step", "login"),
        ul = esc(t.username_label),
        u = esc(username),
        pl = esc(t.password_label),
    );
    let body = format!(
        "<p>{}</p>{}{}",
        esc(t.sign_in_intro),
        alert(error),
        pages.form(&flow.flow_id, &fields, &format!("<button type=\"submit\">{}</button>", esc(t.sign_in_button)))
    );
    page(t, pages.env, status, t.sign_in_title, &body)
}

async fn approval_page(pages: &Pages<'_>, flow: &FlowRecord) -> Response {
    let t = pages.text;
    let Some(device) = &flow.device else {
        return pages.invalid();
    };
    let app = pages.app;
    let name = app.application(pages.env, &device.client_id).await.ok().flatten().map(|a| a.name).unwrap_or_default();
    let buttons = decision_buttons(t);
    let body = format!(
        "<p>{intro}</p>{facts}{scopes}<p class=\"muted\">{warn}</p>{form}",
        intro = esc(t.approve_intro),
        facts = request_facts(t, &name, device.requested_ms, app.clock.now_ms(), &device.requester),
        scopes = scope_list(t, &device.scopes),
        warn = esc(t.only_if_you_started),
        form = pages.form(&flow.flow_id, &hidden("step", "consent"), &buttons),
    );
    page(t, pages.env, StatusCode::OK, t.approve_title, &body)
}

fn decision_buttons(t: &Text) -> String {
    format!(
        "<button type=\"submit\" name=\"decision\" value=\"allow\">{}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">{}</button>",
        esc(t.approve_button),
        esc(t.deny_button)
    )
}

/// `POST /{envId}/signon/?flowId=…`: one step of the form.
pub async fn act(app: &App, env: &str, req: &Request) -> Response {
    let pages = Pages::new(app, env, req);
    let query = req.query_params().unwrap_or_default();
    let Some(flow_id) = query.get("flowId").map(str::to_owned) else {
        return pages.finish(pages.invalid());
    };
    let form = req.form().unwrap_or_default();
    let flow = match flows::load(app, env, &flow_id).await {
        Ok(flow) => flow,
        Err(e) if e.status == StatusCode::NOT_FOUND => return pages.finish(pages.invalid()),
        Err(_) => return pages.finish(pages.unavailable()),
    };
    if !pages.csrf_ok(&flow_id, &form) {
        let message = pages.text.form_expired;
        let response = match form.get("step") {
            Some("login") => login_page(&pages, &flow, "", Some(message), StatusCode::FORBIDDEN),
            _ => code_page(
                &pages,
                &flow,
                form.get("user_code").unwrap_or_default(),
                Some(message),
                StatusCode::FORBIDDEN,
            ),
        };
        return pages.finish(response);
    }
    let (action, step) = match form.get("step") {
        Some("code") => {
            (FlowAction::UserCodeVerify { user_code: form.get("user_code").unwrap_or_default().to_owned() }, "code")
        }
        Some("login") => (
            FlowAction::UsernamePasswordCheck {
                username: form.get("username").unwrap_or_default().to_owned(),
                password: form.get("password").unwrap_or_default().to_owned(),
            },
            "login",
        ),
        Some("consent") => (FlowAction::Consent { accept: form.get("decision") == Some("allow") }, "consent"),
        _ => return pages.finish(pages.see_flow(&flow_id, None)),
    };
    let response = match flows::perform(app, env, &flow_id, action, req.source_ip).await {
        Ok(done) => pages.see_flow(&flow_id, done.session.as_ref()),
        Err(e) if e.status == StatusCode::NOT_FOUND => pages.invalid(),
        Err(e) if e.code == "INVALID_REQUEST" => pages.see_flow(&flow_id, None),
        Err(e) if e.code == "UNEXPECTED_ERROR" => pages.unavailable(),
        Err(e) => {
            let message = error_text(&e);
            match step {
                "login" => {
                    login_page(&pages, &flow, form.get("username").unwrap_or_default(), Some(&message), e.status)
                }
                "consent" => pages.message_page(StatusCode::BAD_REQUEST, pages.text.expired_title, &message),
                _ => code_page(&pages, &flow, form.get("user_code").unwrap_or_default(), Some(&message), e.status),
            }
        }
    };
    pages.finish(response)
}

/// The stylesheet (served from our origin: the CSP allows nothing else).
pub fn stylesheet() -> Response {
    let mut response = http::Response::new(include_bytes!("style.css").to_vec());
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    html::secure(response)
}
