//! `GET|POST /{envId}/as/userinfo` and PingFederate's `/idp/userinfo.openid` (OIDC Core §5.3)
//! with bearer tokens (RFC 6750): the claims the token's scopes grant.

use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Method, StatusCode};
use serde_json::json;

use crate::context::Context;
use crate::grants::inspect::{inspect, Live};
use crate::http::{json, no_store, Request, Response};

/// RFC 6750 §3: the challenge, with an error when a token was presented.
fn challenge(status: StatusCode, error: Option<(&str, &str)>) -> Response {
    let value = match error {
        Some((code, description)) => {
            format!("Bearer realm=\"userinfo\", error=\"{code}\", error_description=\"{description}\"")
        }
        None => "Bearer realm=\"userinfo\"".to_owned(),
    };
    let body = match error {
        Some((code, description)) => json!({ "error_description": description, "error": code }),
        None => json!({ "error_description": "A bearer access token is required.", "error": "invalid_request" }),
    };
    let mut response = no_store(json(status, &body));
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    response
}

/// The bearer token: the `Authorization` header (§2.1) or, on POST, the form (§2.2); never both.
fn bearer(req: &Request) -> Result<Option<String>, ()> {
    if req.headers.get_all(AUTHORIZATION).iter().count() > 1 {
        return Err(());
    }
    let header =
        req.header(AUTHORIZATION).and_then(|v| v.split_once(' ')).filter(|(s, _)| s.eq_ignore_ascii_case("bearer"));
    let form = if req.method == Method::POST {
        req.form().ok().and_then(|f| f.get("access_token").map(str::to_owned))
    } else {
        None
    };
    match (header, form) {
        (Some(_), Some(_)) => Err(()),
        (Some((_, token)), None) => Ok(Some(token.trim().to_owned())),
        (None, form) => Ok(form),
    }
}

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    let token = match bearer(req) {
        Ok(Some(t)) => t,
        Ok(None) => return challenge(StatusCode::UNAUTHORIZED, None),
        Err(()) => return challenge(StatusCode::BAD_REQUEST, Some(("invalid_request", "Present the token once."))),
    };
    let live = match inspect(ctx.app, ctx.dialect, ctx.environment_id(), &token).await {
        Ok(live) => live,
        Err(_) => {
            return challenge(StatusCode::SERVICE_UNAVAILABLE, Some(("temporarily_unavailable", "Retry shortly.")))
        }
    };
    let Some(Live::Access { claims, family }) = live else {
        return challenge(
            StatusCode::UNAUTHORIZED,
            Some(("invalid_token", "The access token is invalid, expired or revoked.")),
        );
    };
    // RFC 8705 §3: a certificate-bound token only over a connection with that certificate.
    if let Some(bound) = claims["cnf"]["x5t#S256"].as_str() {
        if req.client_certificate.as_ref().map(|c| c.thumbprint_s256()).as_deref() != Some(bound) {
            return challenge(
                StatusCode::UNAUTHORIZED,
                Some(("invalid_token", "The access token is bound to a client certificate not presented.")),
            );
        }
    }
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap_or_default().split(' ').collect();
    let Some(family) = family.filter(|_| scopes.contains(&"openid")) else {
        return challenge(StatusCode::FORBIDDEN, Some(("insufficient_scope", "The token was not issued for openid.")));
    };
    let subject = &family.subject;
    let mut body = json!({ "sub": subject.user_id });
    if scopes.contains(&"profile") {
        body["preferred_username"] = json!(subject.username);
        if let Some(g) = &subject.given_name {
            body["given_name"] = json!(g);
        }
        if let Some(f) = &subject.family_name {
            body["family_name"] = json!(f);
        }
    }
    if scopes.contains(&"email") {
        if let Some(e) = &subject.email {
            body["email"] = json!(e);
        }
    }
    no_store(json(StatusCode::OK, &body))
}
