//! `GET /{envId}/device/qr?user_code=…`: `verification_uri_complete` of a live code as an SVG QR
//! code, so a TV can show it without a QR library. An unknown, malformed or expired code gets
//! the same bare 404: the endpoint tells nothing about codes.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::codes::UserCode;
use crate::hashing::Purpose;
use crate::http::{encode_query_value, no_store, Request, Response};
use crate::pages::html::secure;
use crate::routes::Context;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    match svg_for(ctx, req).await {
        Some(svg) => {
            let mut response = http::Response::new(svg.into_bytes());
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
            secure(no_store(response))
        }
        None => {
            let mut response = http::Response::new(Vec::new());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

async fn svg_for(ctx: &Context<'_>, req: &Request) -> Option<String> {
    let (app, env) = (ctx.app, ctx.environment_id());
    let code = req.query_params().ok()?.get("user_code").and_then(UserCode::parse)?;
    let hash = app.hasher.digest(Purpose::UserCode, env, code.canonical());
    let entry = app.store.find_user_code(env, &hash).await.ok()??;
    if entry.expires_at <= app.clock.now_s() {
        return None;
    }
    let application = app.application(env, &entry.client_id).await.ok()??;
    let base = &app.settings.public_base_url;
    let uri = match &application.device_path_id {
        Some(path) => format!("{base}/{env}/device/{path}"),
        None => format!("{base}/{env}/device"),
    };
    let complete = format!("{uri}?user_code={}", encode_query_value(&code.display()));
    let qr = QrCode::with_error_correction_level(complete.as_bytes(), EcLevel::M).ok()?;
    Some(qr.render::<svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}
