//! `GET /{envId}/signon/style.css`: the pages' stylesheet.

use crate::context::Context;
use crate::http::{Request, Response};

pub async fn handle(_ctx: &Context<'_>, _req: &Request) -> Response {
    crate::pages::stylesheet()
}
