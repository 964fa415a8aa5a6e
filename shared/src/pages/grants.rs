//! "Connected apps": the remembered consents of the signed-in person, each revocable
//! (PingFederate's Client Access page). Needs the `ST` session. Removing an app's consent
//! also revokes the tokens issued under it.

use http::header::{HeaderValue, LOCATION};
use http::StatusCode;

use super::html::{esc, hidden, page};
use super::text::scope_description;
use super::Pages;
use crate::app::App;
use crate::audit::{Action, Status};
use crate::http::{no_store, Request, Response};
use crate::sessions::Session;

const CONTEXT: &str = "grants";

fn url(env: &str) -> String {
    format!("/{env}/signon/grants")
}

/// `GET /{envId}/signon/grants`.
pub async fn show(app: &App, env: &str, req: &Request) -> Response {
    let pages = Pages::new(app, env, req);
    let t = pages.text;
    let session = match Session::standing(app, env, req).await {
        Ok(Some((session, _))) => session,
        Ok(None) => return pages.finish(pages.message_page(StatusCode::UNAUTHORIZED, t.grants_title, t.not_signed_in)),
        Err(_) => return pages.finish(pages.unavailable()),
    };
    // Approvals the person gave (a record without scopes only lists token families).
    let consents: Vec<_> = match app.store.list_consents(env, &session.sub).await {
        Ok(c) => c.into_iter().filter(|c| !c.scopes.is_empty()).collect(),
        Err(_) => return pages.finish(pages.unavailable()),
    };
    let mut body = format!("<p>{}</p>", esc(t.grants_intro));
    if consents.is_empty() {
        body.push_str(&format!("<p id=\"no-grants\">{}</p>", esc(t.grants_none)));
    }
    for consent in consents {
        let name =
            app.application(env, &consent.client_id).await.ok().flatten().map_or(consent.client_id.clone(), |a| a.name);
        let scopes: String =
            consent.scopes.iter().map(|s| format!("<li>{}</li>", esc(&scope_description(s)))).collect();
        body.push_str(&format!(
            "<div class=\"facts grant\"><strong>{name}</strong><ul class=\"scopes\">{scopes}</ul>\
             <form method=\"post\" action=\"{action}\">{csrf}{client}\
             <button type=\"submit\" class=\"secondary\" aria-label=\"{revoke} {name}\">{revoke}</button></form></div>",
            name = esc(&name),
            action = esc(&url(env)),
            csrf = hidden("csrf", &pages.csrf_token(CONTEXT)),
            client = hidden("client_id", &consent.client_id),
            revoke = esc(t.revoke_button),
        ));
    }
    pages.finish(page(t, env, StatusCode::OK, t.grants_title, &body))
}

/// `POST /{envId}/signon/grants`: forget one application's consent.
pub async fn revoke(app: &App, env: &str, req: &Request) -> Response {
    let pages = Pages::new(app, env, req);
    let t = pages.text;
    let session = match Session::standing(app, env, req).await {
        Ok(Some((session, _))) => session,
        Ok(None) => return pages.finish(pages.message_page(StatusCode::UNAUTHORIZED, t.grants_title, t.not_signed_in)),
        Err(_) => return pages.finish(pages.unavailable()),
    };
    let form = req.form().unwrap_or_default();
    if !pages.csrf_ok(CONTEXT, &form) {
        return pages.finish(pages.message_page(StatusCode::FORBIDDEN, t.grants_title, t.form_expired));
    }
    if let Some(client_id) = form.get("client_id") {
        if app.store.revoke_consent(env, &session.sub, client_id, app.clock.now_ms()).await.is_err() {
            return pages.finish(pages.unavailable());
        }
        let description = "Consent removed; the tokens issued under it are revoked.";
        app.audit(env, Action::ConsentRevoked, Status::Success, description)
            .client(client_id)
            .user(&session.sub)
            .emit();
    }
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(&url(env)) {
        response.headers_mut().insert(LOCATION, location);
    }
    pages.finish(super::html::secure(no_store(response)))
}
