//! `GET|POST /{envId}/as/authorize` and PingFederate's `/as/authorization.oauth2` (RFC 6749
//! §4.1.1, OIDC Core §3.1.2): validate, then start a flow for the browser that asks. With a
//! session that still stands (and no `prompt=login`, within `max_age`) the flow starts signed
//! on; with a remembered consent too, the browser goes straight back to the application with its
//! code. `prompt=none` never shows a page (OIDC Core §3.1.2.6).

use http::{Method, StatusCode};

use crate::browser::BrowserKey;
use crate::context::Context;
use crate::error::FlowError;
use crate::flows::{flow_user, new_flow_id, Purpose, FLOW_LIFETIME_MS};
use crate::grants::authorization_code::{
    code_redirect, error_redirect, fresh_enough, issue_code, validate, AuthorizeError, Prompt,
};
use crate::http::{redirect, Request, Response};
use crate::model::User;
use crate::pages::html::{page, secure};
use crate::pages::text::EN;
use crate::sessions::Session;
use crate::store::{AuthorizeRequest, FlowRecord};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let (app, env) = (ctx.app, ctx.environment_id());
    let params = if req.method == Method::POST { req.form() } else { req.query_params() };
    let params = match params {
        Ok(p) => p,
        Err(e) => return error_page(env, &e.describe()),
    };
    let issuer = app.issuer(ctx.dialect, env);
    let (_, request, prompt) = match validate(app, env, issuer, &params).await {
        Ok(valid) => valid,
        Err(AuthorizeError::Page(message)) => return error_page(env, &message),
        Err(AuthorizeError::Redirect(url)) => return redirect(&url),
        Err(AuthorizeError::Unavailable) => return unavailable(env),
    };
    let browser = BrowserKey::of(app, req);
    let session = match Session::standing(app, env, req).await {
        Ok(session) => session,
        Err(_) => return unavailable(env),
    };
    let now_s = app.clock.now_s();
    let session = session.filter(|(s, _)| !request.force_login && fresh_enough(&request, s.auth_time, now_s));
    match start(ctx, request, prompt, session, &browser).await {
        Ok(response) => browser.finish(app, response),
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => unavailable(env),
        Err(e) => error_page(env, &e.message),
    }
}

/// The store failed: nothing was kept; the same request may be sent again.
fn unavailable(env: &str) -> Response {
    let message = FlowError::unavailable().message;
    page(&EN, env, StatusCode::SERVICE_UNAVAILABLE, "Please try again", &format!("<p id=\"result\">{message}</p>"))
}

/// Errors before the client and redirect URI are trusted are shown, never redirected.
fn error_page(env: &str, message: &str) -> Response {
    page(
        &EN,
        env,
        StatusCode::BAD_REQUEST,
        "Sign-in request not accepted",
        &format!("<p id=\"result\">{}</p>", crate::pages::html::esc(message)),
    )
}

/// Stores the request's flow, owned by `browser`, as far as the session takes it.
async fn start(
    ctx: &Context<'_>,
    request: AuthorizeRequest,
    prompt: Prompt,
    session: Option<(Session, User)>,
    browser: &BrowserKey,
) -> Result<Response, FlowError> {
    let (app, env) = (ctx.app, ctx.environment_id());
    let user = session.map(|(session, user)| flow_user(user, &session));
    let consented = match &user {
        // No consent step: signing on is enough (PingOne), and no store request asks.
        Some(_) if !request.ask_consent => true,
        Some(user) if !request.force_consent => {
            let granted = app.store.find_consent(env, &user.id, &request.client_id).await?;
            request.scopes.iter().all(|s| granted.contains(s))
        }
        _ => false,
    };
    if prompt == Prompt::None {
        if user.is_none() {
            return Ok(redirect(&error_redirect(&request, "login_required", "The person is not signed in.")));
        }
        if !consented {
            let description = "The person has not consented to these scopes.";
            return Ok(redirect(&error_redirect(&request, "consent_required", description)));
        }
    }
    let now = app.clock.now_ms();
    let flow_id = new_flow_id(app, env, Some(&request.client_id), Purpose::Authorization, browser);
    let started = FlowRecord::started(&flow_id, env, Some(request.client_id.clone()), now, FLOW_LIFETIME_MS);
    let flow = FlowRecord { user, consent: consented.then_some(true), authorize: Some(request.clone()), ..started };
    app.store.create_flow(&flow).await?;
    app.flows.remember(&flow);
    if !consented {
        let location = format!("{}/{env}/signon/?flowId={}", app.settings.public_base_url, flow.flow_id);
        return Ok(secure(redirect(&location)));
    }
    // Signed on and consented already: straight back to the application.
    let code = issue_code(app, &flow).await.map_err(|_| FlowError::unavailable())?;
    Ok(match code {
        Some(code) => redirect(&code_redirect(&request, &code)),
        None => redirect(&error_redirect(&request, "server_error", "The code could not be issued.")),
    })
}
