//! What every Lambda function shares: build the app once at cold start, then convert each API
//! Gateway (HTTP API, payload 2.0) event to the shared request type and back.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request as LambdaRequest, RequestExt, Response as LambdaResponse};
use shared::context::Context;
use shared::error::ErrorResponse;
use shared::http::Request;
use shared::routes::{dispatch_to, Answer, Endpoint};
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
    let app = match configured_app().await {
        Ok(app) => Arc::new(app),
        Err(problem) => return serve_unconfigured(endpoint, problem).await,
    };
    lambda_http::run(lambda_http::service_fn(move |event: LambdaRequest| {
        let app = app.clone();
        async move { Ok::<_, Error>(respond(&app, endpoint, handler, event).await) }
    }))
    .await
}

async fn configured_app() -> Result<App, String> {
    let settings = Settings::from_env()?;
    App::from_settings(settings).await
}

/// A function whose configuration is broken (say, `PUBLIC_BASE_URL` not set yet, or the secret
/// unreadable) logs why on every request and answers 503 `temporarily_unavailable`, rather than
/// failing its start and leaving clients with API Gateway's bare 500.
async fn serve_unconfigured(endpoint: Endpoint, problem: String) -> Result<(), Error> {
    tracing::error!(function = endpoint.function_name(), %problem, "configuration error");
    lambda_http::run(lambda_http::service_fn(move |_event: LambdaRequest| {
        let problem = problem.clone();
        async move {
            tracing::error!(function = endpoint.function_name(), %problem, "configuration error");
            let body = shared::error::OAuthError::not_configured().into_response();
            let (parts, body) = body.into_parts();
            Ok::<_, Error>(LambdaResponse::from_parts(parts, Body::from(body)))
        }
    }))
    .await
}

/// The request path as the routes know it. With a named API Gateway stage, HTTP API events'
/// `rawPath` starts with `/{stage}`; the template uses the `$default` stage, but a stack put
/// behind a named one still routes.
fn path_without_stage(stage: Option<&str>, raw_path: &str) -> String {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            match raw_path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => raw_path.to_owned(),
            }
        }
        _ => raw_path.to_owned(),
    }
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
    let (source_ip, stage) = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            (ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()), ctx.stage.clone())
        }
        _ => (None, None),
    };
    let request_id = event.lambda_context_ref().map(|c| c.request_id.clone());
    let path = path_without_stage(stage.as_deref(), event.raw_http_path());
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

#[cfg(test)]
mod tests {
    use super::path_without_stage;

    #[test]
    fn a_named_stage_is_not_part_of_the_route() {
        assert_eq!(path_without_stage(Some("$default"), "/as/token.oauth2"), "/as/token.oauth2");
        assert_eq!(path_without_stage(None, "/prod/as/token.oauth2"), "/prod/as/token.oauth2");
        assert_eq!(path_without_stage(Some("prod"), "/prod/as/token.oauth2"), "/as/token.oauth2");
        assert_eq!(path_without_stage(Some("prod"), "/prod"), "/prod");
        assert_eq!(path_without_stage(Some("prod"), "/production/x"), "/production/x");
        assert_eq!(path_without_stage(Some("prod"), "/as/token.oauth2"), "/as/token.oauth2");
    }
}
