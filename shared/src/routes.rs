//! THE route table: method + path pattern -> endpoint, in both dialects. The local server, the
//! Lambda functions and the tests all dispatch through it, and `template.yaml` is checked
//! against it.

use std::time::Instant;

use http::header::{HeaderValue, ALLOW};
use http::{Method, StatusCode};

use crate::app::{App, Dialect};
pub use crate::context::{Context, PathParams};
use crate::endpoints;
use crate::error::{ErrorResponse, FlowError, OAuthError};
use crate::http::{Request, Response};
use crate::management::{self, Family};

/// One endpoint handler; each is one Lambda function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    DeviceAuthorization,
    Token,
    Jwks,
    Discovery,
    DeviceStart,
    Flow,
    Signon,
    SignonAsset,
    Grants,
    Qr,
    UserAuthorization,
    Authorize,
    Resume,
    Userinfo,
    Introspect,
    Revoke,
    Signoff,
    /// The management API, one function per resource family.
    Environments,
    Applications,
    Populations,
    Users,
}

impl Endpoint {
    /// The Lambda function (and binary) name serving this endpoint.
    pub fn function_name(self) -> &'static str {
        match self {
            Endpoint::DeviceAuthorization => "device_authorization",
            Endpoint::Token => "token",
            Endpoint::Jwks => "jwks",
            Endpoint::Discovery => "discovery",
            Endpoint::DeviceStart => "device",
            Endpoint::Flow => "flows",
            Endpoint::Signon => "signon",
            Endpoint::SignonAsset => "signon_assets",
            Endpoint::Grants => "grants",
            Endpoint::Qr => "qr",
            Endpoint::UserAuthorization => "user_authorization",
            Endpoint::Authorize => "authorize",
            Endpoint::Resume => "resume",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Introspect => "introspect",
            Endpoint::Revoke => "revoke",
            Endpoint::Signoff => "signoff",
            Endpoint::Environments => "environments",
            Endpoint::Applications => "applications",
            Endpoint::Populations => "populations",
            Endpoint::Users => "users",
        }
    }

    /// Whether the endpoint answers JSON (described in `infra/openapi.yaml`); the others answer
    /// pages, redirects, CSS or SVG.
    pub fn answers_json(self) -> bool {
        matches!(
            self,
            Endpoint::DeviceAuthorization
                | Endpoint::Token
                | Endpoint::Jwks
                | Endpoint::Discovery
                | Endpoint::Flow
                | Endpoint::Userinfo
                | Endpoint::Introspect
                | Endpoint::Revoke
                | Endpoint::Environments
                | Endpoint::Applications
                | Endpoint::Populations
                | Endpoint::Users
        )
    }

    /// The management resource family the endpoint serves, if it is one.
    pub fn management_family(self) -> Option<Family> {
        match self {
            Endpoint::Environments => Some(Family::Environments),
            Endpoint::Applications => Some(Family::Applications),
            Endpoint::Populations => Some(Family::Populations),
            Endpoint::Users => Some(Family::Users),
            _ => None,
        }
    }

    /// Whether the endpoint answers in PingOne's error shape (the flow API) rather than OAuth's.
    pub fn speaks_pingone_errors(self) -> bool {
        matches!(self, Endpoint::Flow | Endpoint::DeviceStart) || self.management_family().is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn matches(self, method: &Method) -> bool {
        match self {
            Verb::Get => method == Method::GET || method == Method::HEAD,
            Verb::Post => method == Method::POST,
            Verb::Put => method == Method::PUT,
            Verb::Patch => method == Method::PATCH,
            Verb::Delete => method == Method::DELETE,
        }
    }
}

#[derive(Debug)]
pub struct Route {
    pub verb: Verb,
    /// Segments in braces are parameters: `{envId}`, `{flowId}`, `{appIdentifier}`.
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub dialect: Dialect,
}

const fn route(verb: Verb, path: &'static str, endpoint: Endpoint, dialect: Dialect) -> Route {
    Route { verb, path, endpoint, dialect }
}

use Dialect::{PingFederate as PF, PingOne as P1};
use Endpoint::*;
use Verb::{Delete, Get, Patch, Post, Put};

pub static ROUTES: &[Route] = &[
    route(Post, "/{envId}/as/device_authorization", DeviceAuthorization, P1),
    route(Post, "/{envId}/as/token", Token, P1),
    route(Get, "/{envId}/as/jwks", Jwks, P1),
    route(Get, "/{envId}/as/.well-known/openid-configuration", Discovery, P1),
    route(Get, "/{envId}/as/.well-known/oauth-authorization-server", Discovery, P1),
    route(Get, "/.well-known/oauth-authorization-server/{envId}/as", Discovery, P1),
    route(Get, "/{envId}/as/authorize", Authorize, P1),
    route(Post, "/{envId}/as/authorize", Authorize, P1),
    route(Get, "/{envId}/as/resume", Resume, P1),
    route(Get, "/{envId}/as/userinfo", Userinfo, P1),
    route(Post, "/{envId}/as/userinfo", Userinfo, P1),
    route(Post, "/{envId}/as/introspect", Introspect, P1),
    route(Post, "/{envId}/as/revoke", Revoke, P1),
    route(Get, "/{envId}/as/signoff", Signoff, P1),
    route(Get, "/{envId}/device", DeviceStart, P1),
    // Before `{appIdentifier}`: `qr` is reserved (`Application::validate`).
    route(Get, "/{envId}/device/qr", Qr, P1),
    route(Get, "/{envId}/device/{appIdentifier}", DeviceStart, P1),
    route(Get, "/{envId}/flows/{flowId}", Flow, P1),
    route(Post, "/{envId}/flows/{flowId}", Flow, P1),
    route(Get, "/{envId}/signon/", Signon, P1),
    route(Post, "/{envId}/signon/", Signon, P1),
    route(Get, "/{envId}/signon/style.css", SignonAsset, P1),
    route(Get, "/{envId}/signon/grants", Grants, P1),
    route(Post, "/{envId}/signon/grants", Grants, P1),
    route(Post, "/as/device_authz.oauth2", DeviceAuthorization, PF),
    route(Get, "/as/user_authz.oauth2", UserAuthorization, PF),
    route(Post, "/as/user_authz.oauth2", UserAuthorization, PF),
    route(Post, "/as/token.oauth2", Token, PF),
    route(Get, "/pf/JWKS", Jwks, PF),
    route(Get, "/.well-known/openid-configuration", Discovery, PF),
    route(Get, "/.well-known/oauth-authorization-server", Discovery, PF),
    route(Get, "/as/authorization.oauth2", Authorize, PF),
    route(Post, "/as/authorization.oauth2", Authorize, PF),
    route(Get, "/idp/userinfo.openid", Userinfo, PF),
    route(Post, "/idp/userinfo.openid", Userinfo, PF),
    route(Post, "/as/introspect.oauth2", Introspect, PF),
    route(Post, "/as/revoke_token.oauth2", Revoke, PF),
    route(Get, "/idp/init_logout.openid", Signoff, PF),
    // The PingOne management API (PING-MGMT).
    route(Get, "/v1/environments", Environments, P1),
    route(Post, "/v1/environments", Environments, P1),
    route(Get, "/v1/environments/{envId}", Environments, P1),
    route(Get, "/v1/roles", Environments, P1),
    route(Get, "/v1/environments/{envId}/applications", Applications, P1),
    route(Post, "/v1/environments/{envId}/applications", Applications, P1),
    route(Get, "/v1/environments/{envId}/applications/{appId}", Applications, P1),
    route(Put, "/v1/environments/{envId}/applications/{appId}", Applications, P1),
    route(Delete, "/v1/environments/{envId}/applications/{appId}", Applications, P1),
    route(Get, "/v1/environments/{envId}/applications/{appId}/secret", Applications, P1),
    route(Post, "/v1/environments/{envId}/applications/{appId}/secret", Applications, P1),
    route(Delete, "/v1/environments/{envId}/applications/{appId}/secret", Applications, P1),
    route(Get, "/v1/environments/{envId}/applications/{appId}/roleAssignments", Applications, P1),
    route(Post, "/v1/environments/{envId}/applications/{appId}/roleAssignments", Applications, P1),
    route(Get, "/v1/environments/{envId}/applications/{appId}/roleAssignments/{roleAssignmentId}", Applications, P1),
    route(Delete, "/v1/environments/{envId}/applications/{appId}/roleAssignments/{roleAssignmentId}", Applications, P1),
    route(Get, "/v1/environments/{envId}/populations", Populations, P1),
    route(Post, "/v1/environments/{envId}/populations", Populations, P1),
    route(Get, "/v1/environments/{envId}/populations/{populationId}", Populations, P1),
    route(Put, "/v1/environments/{envId}/populations/{populationId}", Populations, P1),
    route(Delete, "/v1/environments/{envId}/populations/{populationId}", Populations, P1),
    route(Get, "/v1/environments/{envId}/users", Users, P1),
    route(Post, "/v1/environments/{envId}/users", Users, P1),
    route(Get, "/v1/environments/{envId}/users/{userId}", Users, P1),
    route(Put, "/v1/environments/{envId}/users/{userId}", Users, P1),
    route(Patch, "/v1/environments/{envId}/users/{userId}", Users, P1),
    route(Delete, "/v1/environments/{envId}/users/{userId}", Users, P1),
    route(Get, "/v1/environments/{envId}/users/{userId}/enabled", Users, P1),
    route(Put, "/v1/environments/{envId}/users/{userId}/enabled", Users, P1),
    route(Get, "/v1/environments/{envId}/users/{userId}/password", Users, P1),
    route(Put, "/v1/environments/{envId}/users/{userId}/password", Users, P1),
];

fn match_path(pattern: &'static str, path: &str, default_env: &str) -> Option<PathParams> {
    let mut environment_id = None;
    let mut values = Vec::new();
    let mut path_segments = path.trim_start_matches('/').split('/');
    for expected in pattern.trim_start_matches('/').split('/') {
        let actual = path_segments.next()?;
        match expected {
            // PingOne environment ids are UUIDs, written lowercase with hyphens. Only that
            // spelling routes: the issuer must be the URL the client used (OIDC Discovery §4.3,
            // RFC 8414 §3.3), so `/{ENV in capitals}/as` may not answer for `/{env}/as`.
            "{envId}" if is_canonical_uuid(actual) => environment_id = Some(actual),
            "{envId}" => return None,
            param if param.starts_with('{') && param.ends_with('}') => {
                values.push((&param[1..param.len() - 1], percent_decode(actual)?));
            }
            literal if literal == actual => {}
            _ => return None,
        }
    }
    path_segments
        .next()
        .is_none()
        .then(|| PathParams { environment_id: environment_id.unwrap_or(default_env).to_owned(), values })
}

/// Whether `s` is a UUID as PingOne writes one: 8-4-4-4-12 lowercase hex digits.
fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn percent_decode(segment: &str) -> Option<String> {
    let decoded: String =
        form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B").replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
    (!decoded.is_empty()).then_some(decoded)
}

/// The route for a request: `Ok` with the route and parameters, `Err(allowed verbs)` when the
/// path exists for other methods (empty when it does not exist at all).
pub fn find(method: &Method, path: &str, default_env: &str) -> Result<(&'static Route, PathParams), Vec<Verb>> {
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(params) = match_path(r.path, path, default_env) {
            if r.verb.matches(method) {
                return Ok((r, params));
            }
            allowed.push(r.verb);
        }
    }
    Err(allowed)
}

/// Serves any route (the local server).
pub async fn dispatch(app: &App, req: Request) -> Response {
    dispatch_only(app, req, None).await
}

/// A future answering one request.
pub type Answer<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send + 'a>>;

/// Serves the routes of `only` (a Lambda function's endpoint), or all routes when `None`.
pub async fn dispatch_only(app: &App, req: Request, only: Option<Endpoint>) -> Response {
    route_and_log(app, req, only, |endpoint, ctx, req| Box::pin(handle(endpoint, ctx, req))).await
}

/// Serves the routes of one endpoint with its handler alone, so a Lambda binary links only the
/// code of its own endpoint.
pub async fn dispatch_to<H>(app: &App, req: Request, endpoint: Endpoint, handler: H) -> Response
where
    H: for<'a> Fn(&'a Context<'a>, &'a Request) -> Answer<'a>,
{
    route_and_log(app, req, Some(endpoint), |_, ctx, req| handler(ctx, req)).await
}

async fn route_and_log<H>(app: &App, req: Request, only: Option<Endpoint>, handler: H) -> Response
where
    H: for<'a> Fn(Endpoint, &'a Context<'a>, &'a Request) -> Answer<'a>,
{
    let started = Instant::now();
    // The request's id in the logs and audit events: Lambda's, else a fresh one.
    let correlation_id = req.request_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let found = find(&req.method, &req.path, &app.settings.default_environment_id);
    let (pattern, environment, response) = match found {
        Ok((route, _)) if only.is_some_and(|e| e != route.endpoint) => ("-", String::new(), not_found()),
        Ok((route, params)) => {
            let environment = params.environment_id.clone();
            let ctx = Context { app, dialect: route.dialect, pattern: route.path, params };
            let answer = crate::audit::with_correlation_id(correlation_id.clone(), handler(route.endpoint, &ctx, &req));
            (route.path, environment, answer.await)
        }
        Err(allowed) if allowed.is_empty() => ("-", String::new(), not_found()),
        Err(allowed) => {
            ("-", String::new(), method_not_allowed(&req.path, &allowed, &app.settings.default_environment_id))
        }
    };
    // One line per request; never the query, the body or headers (codes and secrets live there).
    tracing::info!(
        request_id = %correlation_id,
        method = %req.method,
        route = pattern,
        environment = %environment,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn handle(endpoint: Endpoint, ctx: &Context<'_>, req: &Request) -> Response {
    match endpoint {
        DeviceAuthorization => endpoints::device_authorization::handle(ctx, req).await,
        Token => endpoints::token::handle(ctx, req).await,
        Jwks => endpoints::jwks::handle(ctx, req).await,
        Discovery => endpoints::discovery::handle(ctx, req).await,
        DeviceStart => endpoints::device::handle(ctx, req).await,
        Flow => endpoints::flows::handle(ctx, req).await,
        Signon => endpoints::signon::handle(ctx, req).await,
        SignonAsset => endpoints::assets::handle(ctx, req).await,
        Grants => endpoints::grants::handle(ctx, req).await,
        Qr => endpoints::qr::handle(ctx, req).await,
        UserAuthorization => endpoints::user_authorization::handle(ctx, req).await,
        Authorize => endpoints::authorize::handle(ctx, req).await,
        Resume => endpoints::resume::handle(ctx, req).await,
        Userinfo => endpoints::userinfo::handle(ctx, req).await,
        Introspect => endpoints::introspect::handle(ctx, req).await,
        Revoke => endpoints::revoke::handle(ctx, req).await,
        Signoff => endpoints::signoff::handle(ctx, req).await,
        Environments => management::handle(Family::Environments, ctx, req).await,
        Applications => management::handle(Family::Applications, ctx, req).await,
        Populations => management::handle(Family::Populations, ctx, req).await,
        Users => management::handle(Family::Users, ctx, req).await,
    }
}

fn not_found() -> Response {
    FlowError::not_found().into_response()
}

/// The endpoint a path belongs to, whatever the method.
fn endpoint_of(path: &str, default_env: &str) -> Option<Endpoint> {
    ROUTES.iter().find(|r| match_path(r.path, path, default_env).is_some()).map(|r| r.endpoint)
}

/// An answer before the handler, in the error shape of the endpoint `path` belongs to: PingOne's
/// on the flow API, OAuth's elsewhere. For the HTTP edge (a body too large or broken).
pub fn edge_error(path: &str, default_env: &str, status: StatusCode, message: &str) -> Response {
    match endpoint_of(path, default_env) {
        Some(e) if e.speaks_pingone_errors() => FlowError::invalid_request(message).with_status(status).into_response(),
        _ => {
            let mut err = OAuthError::invalid_request(message);
            err.status = status;
            err.into_response()
        }
    }
}

fn method_not_allowed(path: &str, allowed: &[Verb], default_env: &str) -> Response {
    let mut list: Vec<&str> = allowed.iter().map(|v| v.as_str()).collect();
    // Every GET route answers HEAD too (RFC 9110 §10.2.1: `Allow` lists what the route serves).
    if allowed.contains(&Verb::Get) {
        list.insert(list.iter().position(|m| *m == "GET").map_or(0, |i| i + 1), "HEAD");
    }
    let mut response = match endpoint_of(path, default_env) {
        Some(e) if e.speaks_pingone_errors() => FlowError::method_not_allowed(&list.join(", ")).into_response(),
        _ => {
            let mut err = OAuthError::invalid_request(format!("This endpoint accepts only {}.", list.join(", ")));
            err.status = StatusCode::METHOD_NOT_ALLOWED;
            err.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "00000000-0000-4000-8000-000000000001";
    const OTHER: &str = "11111111-2222-4333-8444-555555555555";

    #[test]
    fn canonical_uuids_are_exactly_what_uuid_writes() {
        for id in ["00000000-0000-4000-8000-000000000001", &uuid::Uuid::new_v4().to_string()] {
            assert!(is_canonical_uuid(id), "{id}");
        }
        for id in [
            "00000000-0000-4000-8000-00000000000A",
            "{00000000-0000-4000-8000-000000000001}",
            "00000000000040008000000000000001",
            "00000000-0000-4000-8000-0000000000011",
            "00000000-0000-4000-8000_000000000001",
            "0000000g-0000-4000-8000-000000000001",
            "",
        ] {
            assert!(!is_canonical_uuid(id), "{id}");
            let parsed = uuid::Uuid::try_parse(id).map(|u| u.hyphenated().to_string());
            assert!(parsed.as_deref() != Ok(id), "uuid agrees: {id}");
        }
    }

    #[test]
    fn only_the_canonical_environment_id_routes() {
        let env = "abcdef01-2222-4333-8444-555555555555";
        let (upper, simple) = (env.to_uppercase(), env.replace('-', ""));
        for spelling in [upper.as_str(), simple.as_str(), &format!("urn:uuid:{env}"), &format!("{{{env}}}")] {
            let path = format!("/{spelling}/as/.well-known/openid-configuration");
            assert_eq!(find(&Method::GET, &path, ENV).unwrap_err(), Vec::<Verb>::new(), "{path}");
        }
        assert!(find(&Method::GET, &format!("/{env}/as/.well-known/openid-configuration"), ENV).is_ok());
    }

    #[test]
    fn routes_match_with_parameters() {
        let (r, p) = find(&Method::POST, &format!("/{OTHER}/as/token"), ENV).unwrap();
        assert_eq!((r.endpoint, r.dialect), (Token, P1));
        assert_eq!(p.environment_id, OTHER);
        let (r, p) = find(&Method::POST, "/as/token.oauth2", ENV).unwrap();
        assert_eq!((r.endpoint, r.dialect, p.environment_id.as_str()), (Token, PF, ENV));
        let (r, p) = find(&Method::GET, &format!("/{OTHER}/device/my-tv"), ENV).unwrap();
        assert_eq!((r.endpoint, p.app_identifier()), (DeviceStart, Some("my-tv")));
        let (r, p) = find(&Method::POST, &format!("/{OTHER}/flows/abc_-1"), ENV).unwrap();
        assert_eq!((r.endpoint, p.flow_id()), (Flow, Some("abc_-1")));
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_told_apart() {
        assert_eq!(find(&Method::GET, "/as/token.oauth2", ENV).unwrap_err(), vec![Post]);
        assert!(find(&Method::GET, "/nope", ENV).unwrap_err().is_empty());
        assert!(find(&Method::POST, "/not-a-uuid/as/token", ENV).unwrap_err().is_empty());
        assert!(find(&Method::POST, &format!("/{OTHER}/as/token/extra"), ENV).unwrap_err().is_empty());
    }

    #[test]
    fn every_endpoint_has_a_route_in_both_dialects_where_ping_has_one() {
        for endpoint in [DeviceAuthorization, Token, Jwks, Discovery, Authorize, Userinfo, Introspect, Revoke] {
            for dialect in [P1, PF] {
                assert!(
                    ROUTES.iter().any(|r| r.endpoint == endpoint && r.dialect == dialect),
                    "{endpoint:?} {dialect:?}"
                );
            }
        }
    }
}
