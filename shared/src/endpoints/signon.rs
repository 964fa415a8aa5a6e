//! `GET|POST /{envId}/signon/?flowId=…`: the hosted sign-on pages (see `pages`).

use http::Method;

use crate::context::Context;
use crate::http::{Request, Response};

pub async fn handle(ctx: &Context<'_>, req: &Request) -> Response {
    if req.method == Method::POST {
        crate::pages::act(ctx.app, ctx.environment_id(), req).await
    } else {
        crate::pages::show(ctx.app, ctx.environment_id(), req).await
    }
}
