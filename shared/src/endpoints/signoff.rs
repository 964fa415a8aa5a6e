//! `GET /{envId}/as/signoff` and PingFederate's `/idp/init_logout.openid` (PING-COMPAT §2.6,
//! OpenID Connect RP-Initiated Logout 1.0): ends the browser's session for good (a copy of the
//! `ST` cookie no longer signs on), expires the cookie, and returns the browser to a registered
//! `post_logout_redirect_uri` (with `state`), or shows the signed-out page.

use http::header::{HeaderValue, SET_COOKIE};
use http::StatusCode;

use crate::audit::{Action, Status};
use crate::context::Context;
use crate::http::{encode_query_value, redirect, Request, Response};
use crate::pages::Pages;
use crate::sessions::Session;

/// PingOne's bound on `post_logout_redirect_uri` and `state` together.
const MAX_RETURN_LEN: usize = 8192;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let (app, env) = (ctx.app, ctx.environment_id());
    let pages = Pages::new(app, env, req);
    let refuse = |message: &str| pages.message_page(StatusCode::BAD_REQUEST, "Sign-out request not accepted", message);
    let query = match req.query_params() {
        Ok(q) => q,
        Err(e) => return refuse(&e.describe()),
    };
    let return_to = query.get("post_logout_redirect_uri");
    let state = query.get("state");
    if return_to.map_or(0, str::len) + state.map_or(0, str::len) >= MAX_RETURN_LEN {
        return refuse("post_logout_redirect_uri and state are too long.");
    }
    // The application the ID token was issued to; its signature is checked, its expiry is not.
    let hinted = match query.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let claims = app.signer.verify_signature(hint);
            let issuer = app.issuer(ctx.dialect, env);
            match claims.filter(|c| c["iss"].as_str() == Some(issuer.as_str())) {
                Some(claims) => Some(claims["aud"].as_str().unwrap_or_default().to_owned()),
                None => return refuse("The id_token_hint was not issued here."),
            }
        }
    };
    if let Some(uri) = return_to {
        let apps = match app.applications(env).await {
            Ok(apps) => apps,
            Err(_) => return pages.unavailable(),
        };
        let registered = apps.iter().any(|a| {
            a.enabled
                && hinted.as_deref().is_none_or(|aud| aud == a.client_id)
                && a.post_logout_redirect_uris.iter().any(|u| u == uri)
        });
        if !registered {
            return refuse("The post_logout_redirect_uri is not registered for the application.");
        }
    }
    if let Some(session) = Session::from_request(app, env, req) {
        if app.store.end_session(env, &session.sid, session.exp).await.is_err() {
            return pages.unavailable();
        }
        app.audit(env, Action::SessionDeleted, Status::Success, "Signed off.")
            .user(&session.sub)
            .resource("SESSION", &session.sid)
            .emit();
    }
    let mut response = match return_to {
        Some(uri) => {
            let mut location = uri.to_owned();
            if let Some(state) = state {
                let join = if uri.contains('?') { '&' } else { '?' };
                location.push_str(&format!("{join}state={}", encode_query_value(state)));
            }
            redirect(&location)
        }
        None => pages.message_page(StatusCode::OK, pages.text.signed_out_title, pages.text.signed_out_body),
    };
    if let Ok(cookie) = HeaderValue::from_str(&Session::clear_cookie(app)) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}
