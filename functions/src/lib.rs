//! What every Lambda function shares: build the app once at cold start, then convert each API
//! Gateway (HTTP API, payload 2.0) event to the shared request type and back.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request as LambdaRequest, RequestExt, Response as LambdaResponse};
use shared::http::Request;
use shared::routes::{dispatch_to, Answer, Context, Endpoint};
use shared::{App, Settings};

/// The `main` of a Lambda binary serving one endpoint with its handler:
/// `functions::lambda_main!(Token, shared::endpoints::token::handle);`
#[macro_export]
macro_rules! lambda_main {
    ($endpoint:ident, $handler:path) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            $crate::run(shared::routes::Endpoint::$endpoint, |ctx, req| Box::pin($handler(ctx, req))).await
        }
    };
}

/// Runs the Lambda function serving `endpoint` with `handler`. Configuration errors stop the cold
/// start with a message rather than failing every request.
pub async fn run<H>(endpoint: Endpoint, handler: H) -> Result<(), Error>
where
    H: for<'a> Fn(&'a Context<'a>, &'a Request) -> Answer<'a> + Copy + Send + Sync + 'static,
{
    tracing_subscriber_init();
    let settings = Settings::from_env().map_err(|e| format!("configuration: {e}"))?;
    let app = Arc::new(App::from_settings(settings).await.map_err(|e| format!("configuration: {e}"))?);
    lambda_http::run(lambda_http::service_fn(move |event: LambdaRequest| {
        let app = app.clone();
        async move { Ok::<_, Error>(respond(&app, endpoint, handler, event).await) }
    }))
    .await
}

/// One JSON log line per event; the level comes from `RUST_LOG` (default `info`).
fn tracing_subscriber_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().json().with_env_filter(filter).without_time().with_target(false).init();
}

async fn respond<H>(app: &App, endpoint: Endpoint, handler: H, event: LambdaRequest) -> LambdaResponse<Body>
where
    H: for<'a> Fn(&'a Context<'a>, &'a Request) -> Answer<'a>,
{
    let source_ip = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    let request_id = event.lambda_context_ref().map(|c| c.request_id.clone());
    let path = event.raw_http_path().to_owned();
    let query = event.uri().query().map(str::to_owned);
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let request = Request { method: parts.method, path, query, headers: parts.headers, body, source_ip, request_id };
    let response = dispatch_to(app, request, endpoint, handler).await;
    let (parts, body) = response.into_parts();
    LambdaResponse::from_parts(parts, Body::from(body))
}
