//! The person's side as server-rendered pages (the PingOne hosted sign-on UI behind
//! `/{envId}/signon/?flowId=…`, reached from `/{envId}/device` and PingFederate's
//! `/as/user_authz.oauth2`). They drive the same flow engine as the flow API, in PingFederate's
//! order (seed 000): connect a device (code), authenticate, approve, result.
//!
//! Works without JavaScript; every form carries a CSRF token derived from the browser key
//! (double submit). A page only shows a flow; every change is a form post. A flow's page opened
//! in another browser does not continue that flow: a device flow starts afresh there, an
//! authorization request is sent back to its application.

pub mod grants;
pub mod html;
pub mod password;
pub mod text;

use http::header::{HeaderValue, LOCATION, SET_COOKIE};
use http::StatusCode;

use self::html::{alert, code_input, esc, hidden, page, request_facts, scope_list};
use self::text::{Text, EN};
use crate::app::App;
use crate::browser::BrowserKey;
use crate::codes::UserCode;
use crate::error::FlowError;
use crate::flows::start::DeviceStart;
use crate::flows::{self, FlowAction, FlowStatus, FlowStep, Opened, Started};
use crate::http::{encode_query_value, Params, Request, Response};
use crate::store::{AuthorizeRequest, FlowRecord};

/// One page request: the app, the environment and the browser's key.
pub struct Pages<'a> {
    pub app: &'a App,
    pub env: &'a str,
    pub text: &'static Text,
    pub browser: BrowserKey,
}

/// `/{env}/signon/?flowId=…` with what the first page of a started flow shows.
pub fn signon_path(env: &str, start: &DeviceStart) -> String {
    let mut path = format!("/{env}/signon/?flowId={}", encode_query_value(&start.flow_id));
    if let Some(code) = &start.confirm {
        path.push_str(&format!("&user_code={}", encode_query_value(&code.display())));
    }
    if let Some(notice) = start.notice {
        path.push_str(&format!("&notice={notice}"));
    }
    path
}

impl<'a> Pages<'a> {
    pub fn new(app: &'a App, env: &'a str, req: &Request) -> Self {
        Self { app, env, text: &EN, browser: BrowserKey::of(app, req) }
    }

    /// The token a form for `context` (a flow id, or "grants") must carry.
    pub fn csrf_token(&self, context: &str) -> String {
        self.browser.csrf_token(self.app, context)
    }

    pub fn csrf_ok(&self, context: &str, form: &Params) -> bool {
        self.browser.csrf_ok(self.app, context, form)
    }

    /// Adds the browser key cookie when this browser had none.
    pub fn finish(&self, response: Response) -> Response {
        self.browser.finish(self.app, response)
    }

    pub fn signon_url(&self, flow_id: &str) -> String {
        format!("/{}/signon/?flowId={}", self.env, encode_query_value(flow_id))
    }

    /// `303 See Other` to `location` (post, redirect, get), with the cookies a step sets.
    fn see_other(&self, location: &str, step: Option<&FlowStep>) -> Response {
        let mut response = http::Response::new(Vec::new());
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(location) = HeaderValue::from_str(location) {
            response.headers_mut().insert(LOCATION, location);
        }
        for cookie in step.map(|s| s.cookies(self.app)).unwrap_or_default() {
            response.headers_mut().append(SET_COOKIE, cookie);
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

    /// Another browser's flow: a device flow starts afresh here (for the same application, with
    /// a code from the link to confirm); an authorization request goes back to its application.
    pub fn foreign(&self, started: &Started, query: &Params) -> Response {
        if started.purpose == flows::Purpose::Authorization {
            return self.other_browser();
        }
        let mut location = match &started.flow.application_id {
            Some(app) => format!("/{}/device/{}", self.env, encode_query_value(app)),
            None => format!("/{}/device", self.env),
        };
        if let Some(code) = query.get("user_code").and_then(UserCode::parse) {
            location.push_str(&format!("?user_code={}", encode_query_value(&code.display())));
        }
        self.see_other(&location, None)
    }

    /// The answer to a flow of another browser that cannot start afresh.
    pub fn other_browser(&self) -> Response {
        self.message_page(StatusCode::FORBIDDEN, self.text.other_browser_title, self.text.other_browser_body)
    }
}

/// `GET /{envId}/signon/?flowId=…[&user_code=…][&notice=…]`: shows the flow's page; changes
/// nothing.
pub async fn show(app: &App, env: &str, req: &Request) -> Response {
    let pages = Pages::new(app, env, req);
    let query = req.query_params().unwrap_or_default();
    let Some(flow_id) = query.get("flowId") else {
        return pages.finish(pages.invalid());
    };
    let response = match flows::open(app, env, flow_id, &pages.browser) {
        Opened::Unknown => pages.invalid(),
        Opened::Foreign(started) => pages.foreign(&started, &query),
        Opened::Own(started) => match flows::current(app, &started).await {
            Ok(flow) => render(&pages, &flow, &query).await,
            Err(e) if e.status == StatusCode::NOT_FOUND => pages.invalid(),
            Err(_) => pages.unavailable(),
        },
    };
    pages.finish(response)
}

/// The page a flow's state calls for.
async fn render(pages: &Pages<'_>, flow: &FlowRecord, query: &Params) -> Response {
    if flows::status(flow) == FlowStatus::MustChangePassword {
        return password::change_page(pages, flow, None, StatusCode::OK);
    }
    if let Some(request) = &flow.authorize {
        return authorize_page(pages, flow, request).await;
    }
    let t = pages.text;
    match flows::status(flow) {
        FlowStatus::Completed => return pages.message_page(StatusCode::OK, t.approved_title, t.approved_body),
        FlowStatus::Failed => return pages.message_page(StatusCode::OK, t.denied_title, t.denied_body),
        _ => {}
    }
    if flow.device.is_none() {
        if let Some(notice) = query.get("notice").and_then(|key| t.notice(key)) {
            return code_page(pages, flow, query.get("user_code").unwrap_or_default(), Some(notice), StatusCode::OK);
        }
        return match query.get("user_code").and_then(UserCode::parse) {
            Some(code) => confirm_page(pages, flow, &code),
            None => code_page(pages, flow, "", None, StatusCode::OK),
        };
    }
    if flow.user.is_none() {
        return login_page(pages, flow, "", None, StatusCode::OK);
    }
    approval_page(pages, flow).await
}

/// The pages of an authorization request: sign in, consent, then back to `/as/resume`, which
/// returns the browser to the application.
async fn authorize_page(pages: &Pages<'_>, flow: &FlowRecord, request: &AuthorizeRequest) -> Response {
    let (app, env) = (pages.app, pages.env);
    match flows::status(flow) {
        FlowStatus::Completed | FlowStatus::Failed => {
            return pages.see_other(&flows::view::resume_url(app, flow), None);
        }
        FlowStatus::UsernamePasswordRequired => {
            let hint = request.login_hint.as_deref().unwrap_or_default();
            return login_page(pages, flow, hint, None, StatusCode::OK);
        }
        _ => {}
    }
    let t = pages.text;
    let name = app.application(env, &request.client_id).await.ok().flatten().map(|a| a.name).unwrap_or_default();
    let body = format!(
        "<div class=\"facts\" id=\"request\"><strong>{name}</strong></div>{scopes}{form}",
        name = esc(&name),
        scopes = scope_list(t, &request.scopes),
        form = pages.form(&flow.flow_id, &hidden("step", "consent"), &decision_buttons(t)),
    );
    page(t, env, StatusCode::OK, t.authorize_title, &body)
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

/// A code from the link, to confirm. It is not looked up here: what it is for is shown once the
/// code has been tried under the guessing limits (the approval page).
fn confirm_page(pages: &Pages<'_>, flow: &FlowRecord, code: &UserCode) -> Response {
    let t = pages.text;
    let body = format!(
        "<p>{intro}</p><p class=\"code\" id=\"shown-code\">{code}</p><p class=\"muted\">{warn}</p>{form}\
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
    page(t, pages.env, StatusCode::OK, t.confirm_title, &body)
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
    let body = format!(
        "<p>{intro}</p>{facts}{scopes}<p class=\"muted\">{warn}</p>{form}",
        intro = esc(t.approve_intro),
        facts = request_facts(t, &name, device.requested_ms, app.clock.now_ms(), &device.requester),
        scopes = scope_list(t, &device.scopes),
        warn = esc(t.only_if_you_started),
        form = pages.form(&flow.flow_id, &hidden("step", "consent"), &decision_buttons(t)),
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
    let started = match flows::open(app, env, &flow_id, &pages.browser) {
        Opened::Unknown => return pages.finish(pages.invalid()),
        Opened::Foreign(started) => return pages.finish(pages.foreign(&started, &query)),
        Opened::Own(started) => started,
    };
    let form = req.form().unwrap_or_default();
    let flow = match flows::current(app, &started).await {
        Ok(flow) => flow,
        Err(e) if e.status == StatusCode::NOT_FOUND => return pages.finish(pages.invalid()),
        Err(_) => return pages.finish(pages.unavailable()),
    };
    if !pages.csrf_ok(&flow_id, &form) {
        let message = pages.text.form_expired;
        let response = match form.get("step") {
            Some("login") => login_page(&pages, &flow, "", Some(message), StatusCode::FORBIDDEN),
            Some(password::STEP) => password::change_page(&pages, &flow, Some(message), StatusCode::FORBIDDEN),
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
            // A browser keeps the cookie that holds the code's grant (`flows::verified`).
            let user_code = form.get("user_code").unwrap_or_default().to_owned();
            (FlowAction::UserCodeVerify { user_code, hold: true }, "code")
        }
        Some("login") => (
            FlowAction::UsernamePasswordCheck {
                username: form.get("username").unwrap_or_default().to_owned(),
                password: form.get("password").unwrap_or_default().to_owned(),
            },
            "login",
        ),
        Some("consent") => (FlowAction::Consent { accept: form.get("decision") == Some("allow") }, "consent"),
        Some(password::STEP) => match password::action(&pages, &form) {
            Ok(action) => (action, password::STEP),
            Err(message) => {
                return pages.finish(password::change_page(&pages, &flow, Some(message), StatusCode::BAD_REQUEST))
            }
        },
        _ => return pages.finish(pages.see_other(&pages.signon_url(&flow_id), None)),
    };
    let response = match flows::perform(app, env, &flow_id, &pages.browser, action, req.source_ip).await {
        Ok(done) => pages.see_other(&pages.signon_url(&flow_id), Some(&done)),
        Err(e) if e.status == StatusCode::NOT_FOUND => pages.invalid(),
        Err(e) if e.code == "INVALID_REQUEST" => pages.see_other(&pages.signon_url(&flow_id), None),
        Err(e) if e.code == "UNEXPECTED_ERROR" => pages.unavailable(),
        Err(e) => {
            let message = error_text(&e);
            match step {
                "login" => {
                    login_page(&pages, &flow, form.get("username").unwrap_or_default(), Some(&message), e.status)
                }
                "consent" => pages.message_page(StatusCode::BAD_REQUEST, pages.text.expired_title, &message),
                password::STEP => password::change_page(&pages, &flow, Some(&message), e.status),
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
