//! What every Lambda function shares: build the app once at cold start, then convert each API
//! Gateway (HTTP API, payload 2.0) event to the shared request type and back.

use std::sync::Arc;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request as LambdaRequest, RequestExt, Response as LambdaResponse};
use shared::certificate::ClientCertificate;
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
    let request = to_request(event);
    let response = dispatch_to(app, request, endpoint, handler).await;
    let (parts, body) = response.into_parts();
    LambdaResponse::from_parts(parts, Body::from(body))
}

/// The shared request of an API Gateway HTTP API (payload 2.0) event.
fn to_request(event: LambdaRequest) -> Request {
    let (source_ip, stage, client_certificate) = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            (ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()), ctx.stage.clone(), client_certificate(ctx))
        }
        _ => (None, None, None),
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
    Request {
        method: parts.method,
        path,
        query,
        headers: parts.headers,
        body,
        source_ip,
        request_id,
        client_certificate,
    }
}

/// The client certificate of a mutual-TLS custom domain (PING-MGMT §11.1). API Gateway verified
/// its chain against the truststore before invoking us, hence `chain_verified`; the default
/// `execute-api` endpoint has no `authentication` block (§11.2). Only the PEM is read: the DNs,
/// serial and validity strings beside it are not trusted or compared (§11.3). A PEM that does
/// not parse is as no certificate, with a warning that never quotes it.
fn client_certificate(ctx: &ApiGatewayV2httpRequestContext) -> Option<ClientCertificate> {
    let pem = ctx.authentication.as_ref()?.client_cert.as_ref()?.client_cert_pem.as_deref()?;
    match ClientCertificate::from_pem(pem, true) {
        Ok(cert) => Some(cert),
        Err(err) => {
            tracing::warn!(error = %err, "the mutual-TLS client certificate from API Gateway does not parse; ignored");
            None
        }
    }
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

#[cfg(test)]
mod client_certificate_tests {
    use super::to_request;

    /// An HTTP API (payload 2.0) event for `POST /as/token.oauth2`, with `authentication` if any.
    fn event(authentication: Option<serde_json::Value>) -> lambda_http::Request {
        let mut event = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/as/token.oauth2", "rawQueryString": "",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "domainName": "auth.example.com",
                "domainPrefix": "auth", "requestId": "r-1", "routeKey": "$default", "stage": "$default",
                "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1795255200000u64,
                "http": {"method": "POST", "path": "/as/token.oauth2", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "test"}
            },
            "body": "grant_type=client_credentials&client_id=x", "isBase64Encoded": false
        });
        if let Some(authentication) = authentication {
            event["requestContext"]["authentication"] = authentication;
        }
        lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
    }

    /// `authentication` as API Gateway sends it (PING-MGMT §11.1), its DN strings in AWS's order.
    fn client_cert(pem: &str) -> serde_json::Value {
        serde_json::json!({"clientCert": {
            "clientCertPem": pem,
            "subjectDN": "O=Example,CN=device-1", "issuerDN": "O=Example,CN=Example CA", "serialNumber": "1",
            "validity": {"notBefore": "Aug 29 00:28:21 2020 GMT", "notAfter": "Aug  5 00:28:21 2120 GMT"}
        }})
    }

    fn device_pem() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Example");
        params.distinguished_name.push(rcgen::DnType::CommonName, "device-1");
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }

    #[test]
    fn the_gateway_client_certificate_reaches_the_request() {
        let pem = device_pem();
        let request = to_request(event(Some(client_cert(&pem))));
        let cert = request.client_certificate.expect("the certificate is on the request");
        assert!(cert.chain_verified(), "API Gateway verified it against the truststore");
        assert_eq!(cert.subject_dn(), "CN=device-1,O=example");
        assert_eq!(Some(cert), shared::certificate::ClientCertificate::from_pem(&pem, true).ok());
        assert_eq!(request.path, "/as/token.oauth2");
        assert_eq!(request.body, b"grant_type=client_credentials&client_id=x");
    }

    #[test]
    fn no_mutual_tls_no_certificate() {
        assert!(to_request(event(None)).client_certificate.is_none());
        assert!(to_request(event(Some(serde_json::json!({})))).client_certificate.is_none());
        assert!(to_request(event(Some(serde_json::Value::Null))).client_certificate.is_none());
    }

    #[test]
    fn a_malformed_pem_is_no_certificate() {
        let broken = "-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n";
        assert!(to_request(event(Some(client_cert(broken)))).client_certificate.is_none());
        assert!(to_request(event(Some(client_cert("not a pem")))).client_certificate.is_none());
    }
}
