//! `GET|POST /{envId}/signon/grants`: connected apps (remembered consents), revocable.

use http::Method;

use crate::context::Context;
use crate::http::{Request, Response};
use crate::pages::grants;

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    if req.method == Method::POST {
        grants::revoke(ctx.app, ctx.environment_id(), req).await
    } else {
        grants::show(ctx.app, ctx.environment_id(), req).await
    }
}
