//! `GET|POST /{envId}/as/authorize` and PingFederate's `/as/authorization.oauth2` (RFC 6749
//! §4.1.1, OIDC Core §3.1.2): validate, then send the browser to the sign-on pages with a flow,
//! or with `prompt=none` answer at once from the session.

use http::{Method, StatusCode};

use crate::error::FlowError;
use crate::flows::{new_flow_id, FLOW_LIFETIME_MS};
use crate::grants::authorization_code::{
    code_redirect, error_redirect, fresh_enough, issue_code, validate, AuthorizeError, Prompt,
};
use crate::http::{redirect, Request, Response};
use crate::pages::html::{page, secure};
use crate::pages::text::EN;
use crate::routes::Context;
use crate::sessions::Session;
use crate::store::{AuthorizeRequest, FlowRecord, FlowUser};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let env = ctx.environment_id();
    let params = if req.method == Method::POST { req.form() } else { req.query_params() };
    let params = match params {
        Ok(p) => p,
        Err(e) => return error_page(env, &e.describe()),
    };
    let issuer = ctx.app.issuer(ctx.dialect, env);
    let (_, request, prompt) = match validate(ctx.app, env, issuer, &params).await {
        Ok(valid) => valid,
        Err(AuthorizeError::Page(message)) => return error_page(env, &message),
        Err(AuthorizeError::Redirect(url)) => return redirect(&url),
    };
    let session = Session::from_request(ctx.app, env, req);
    let result = if prompt == Prompt::None {
        without_pages(ctx, request, session).await
    } else {
        with_pages(ctx, request).await
    };
    result.unwrap_or_else(|e| error_page(env, &e.message))
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

async fn with_pages(ctx: &Context<'_>, request: AuthorizeRequest) -> Result<Response, FlowError> {
    let (app, env) = (ctx.app, ctx.environment_id());
    let now = app.clock.now_ms();
    let flow_id = new_flow_id(app, env, Some(&request.client_id));
    let flow = FlowRecord {
        flow_id: flow_id.clone(),
        environment_id: env.to_owned(),
        application_id: Some(request.client_id.clone()),
        created_ms: now,
        expires_ms: now + FLOW_LIFETIME_MS,
        user: None,
        device: None,
        consent: None,
        code_failures: 0,
        authorize: Some(request),
        resumed_ms: None,
    };
    app.store.create_flow(&flow).await?;
    Ok(secure(redirect(&format!("{}/{env}/signon/?flowId={flow_id}", app.settings.public_base_url))))
}

/// `prompt=none`: a code if the session is good and consent exists, else `login_required` or
/// `consent_required` (OIDC Core §3.1.2.6); no page is shown.
async fn without_pages(
    ctx: &Context<'_>,
    request: AuthorizeRequest,
    session: Option<Session>,
) -> Result<Response, FlowError> {
    let (app, env) = (ctx.app, ctx.environment_id());
    let now = app.clock.now_ms();
    let session = session.filter(|s| fresh_enough(&request, s.auth_time, now.div_euclid(1000)));
    let Some(session) = session else {
        return Ok(redirect(&error_redirect(&request, "login_required", "The person is not signed in.")));
    };
    let user = app.store.find_user(env, &session.username).await?.filter(|u| u.enabled && u.id == session.sub);
    let Some(user) = user else {
        return Ok(redirect(&error_redirect(&request, "login_required", "The person is not signed in.")));
    };
    let granted = app.store.find_consent(env, &user.id, &request.client_id).await?;
    if request.force_consent || !request.scopes.iter().all(|s| granted.contains(s)) {
        return Ok(redirect(&error_redirect(
            &request,
            "consent_required",
            "The person has not consented to these scopes.",
        )));
    }
    let flow = FlowRecord {
        flow_id: new_flow_id(app, env, Some(&request.client_id)),
        environment_id: env.to_owned(),
        application_id: Some(request.client_id.clone()),
        created_ms: now,
        expires_ms: now + FLOW_LIFETIME_MS,
        user: Some(FlowUser {
            id: user.id,
            username: user.username,
            given_name: user.given_name,
            family_name: user.family_name,
            email: user.email,
            session_id: session.sid,
            auth_time: session.auth_time,
        }),
        device: None,
        consent: Some(true),
        code_failures: 0,
        authorize: Some(request.clone()),
        resumed_ms: None,
    };
    app.store.create_flow(&flow).await?;
    let code = issue_code(app, &flow).await.map_err(|_| FlowError::unavailable())?;
    Ok(match code {
        Some(code) => redirect(&code_redirect(&request, &code)),
        None => redirect(&error_redirect(&request, "server_error", "The code could not be issued.")),
    })
}
