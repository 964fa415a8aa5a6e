//! `GET /{envId}/device/qr?user_code=…`: the environment's verification URI with that code, as an
//! SVG QR code, so a TV can show it without a QR library. The code is not looked up: a live
//! code, an unknown one and an expired one get the same picture (of their own link), so the
//! endpoint tells nothing about codes and costs no store request. A malformed code is a bare 404.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::codes::UserCode;
use crate::context::Context;
use crate::http::{encode_query_value, no_store, Request, Response};
use crate::pages::html::secure;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    match svg_for(ctx, req) {
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

fn svg_for(ctx: &Context<'_>, req: &Request) -> Option<String> {
    let code = req.query_params().ok()?.get("user_code").and_then(UserCode::parse)?;
    let complete = format!(
        "{}/{}/device?user_code={}",
        ctx.app.settings.public_base_url,
        ctx.environment_id(),
        encode_query_value(&code.display())
    );
    let qr = QrCode::with_error_correction_level(complete.as_bytes(), EcLevel::M).ok()?;
    Some(qr.render::<svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}
