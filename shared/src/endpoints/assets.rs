//! `GET /{envId}/signon/style.css`: the pages' stylesheet.

use crate::http::{Request, Response};
use crate::context::Context;

pub async fn handle(_ctx: &Context<'_>, _req: &Request) -> Response {
    crate::pages::stylesheet()
}
