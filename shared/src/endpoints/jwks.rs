//! `GET /{envId}/as/jwks` and PingFederate's `GET /pf/JWKS`: the public signing keys.

use http::header::{HeaderValue, CACHE_CONTROL};
use http::StatusCode;

use crate::context::Context;
use crate::http::{json_bytes, Request, Response};

pub async fn handle(ctx: &Context<'_>, _req: &Request) -> Response {
    let mut response = json_bytes(StatusCode::OK, ctx.app.signer.jwks_document().to_vec());
    // Public and stable between rotations; short caching keeps rotation prompt.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
