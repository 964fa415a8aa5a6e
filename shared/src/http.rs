//! The HTTP edge: one request type every entry point (Lambda, local server, tests) converts to,
//! parsing of forms, JSON, Basic credentials and cookies, and response builders.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;

use crate::certificate::ClientCertificate;

pub type Response = http::Response<Vec<u8>>;

/// A request as the endpoints see it, whatever carried it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// The path without the query, percent-encoded as received.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub source_ip: Option<IpAddr>,
    /// The Lambda request id, when a Lambda function carries the request (for the logs).
    pub request_id: Option<String>,
    /// The client certificate of the TLS connection (RFC 8705), from the transport only: API
    /// Gateway's mutual-TLS `requestContext.authentication.clientCert` on Lambda, the local
    /// server's HTTPS listener locally; never from a header. `None` over plain HTTP or when the
    /// client presented none.
    pub client_certificate: Option<ClientCertificate>,
}

impl Request {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        Self {
            method,
            path,
            query,
            headers: HeaderMap::new(),
            body: Vec::new(),
            source_ip: None,
            request_id: None,
            client_certificate: None,
        }
    }

    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of the body, lower case, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header(header::CONTENT_TYPE).map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header(header::USER_AGENT)
    }

    /// Query parameters (duplicates rejected, as for forms).
    pub fn query_params(&self) -> Result<Params, ParamError> {
        Params::parse(self.query.as_deref().unwrap_or_default().as_bytes())
    }

    /// The body as `application/x-www-form-urlencoded` parameters.
    pub fn form(&self) -> Result<Params, ParamError> {
        if self.content_type().as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(ParamError::NotAForm);
        }
        Params::parse(&self.body)
    }

    /// A cookie's value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Every cookie of the `Cookie` header(s), name and value, in order.
    pub fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
    }

    /// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded).
    /// `Some(Err)` when the header is Basic but malformed.
    pub fn basic_credentials(&self) -> Option<Result<(String, String), ()>> {
        let value = self.header(header::AUTHORIZATION)?;
        let (scheme, rest) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decode = || -> Option<(String, String)> {
            let raw = B64_STD.decode(rest.trim()).ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (id, secret) = text.split_once(':')?;
            // A raw `&` is part of the value, not the end of a form pair.
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((unescape(id)?, unescape(secret)?))
        };
        Some(decode().ok_or(()))
    }
}

/// Why parameters could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamError {
    NotAForm,
    Repeated(String),
}

impl ParamError {
    pub fn describe(&self) -> String {
        match self {
            ParamError::NotAForm => "The request body must be application/x-www-form-urlencoded.".to_owned(),
            ParamError::Repeated(name) => format!("The parameter '{name}' must not be included more than once."),
        }
    }
}

/// Request parameters, each at most once (RFC 6749 §3.1, §3.2). A parameter sent without a
/// value is treated as omitted (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ParamError::Repeated(k.into_owned()));
            }
        }
        map.retain(|_, v: &mut String| !v.is_empty());
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    json_bytes(status, serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()))
}

/// A JSON response of a document already serialized.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = http::Response::new(bytes);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Marks a response as never to be cached (RFC 6749 §5.1; codes and tokens inside).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `302 Found` to `location`.
pub fn redirect(location: &str) -> Response {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(response)
}

/// Percent-encodes a query parameter value.
pub fn encode_query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_request(body: &str) -> Request {
        let mut r = Request::new(Method::POST, "/as/token");
        r.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
        r.body = body.as_bytes().to_vec();
        r
    }

    #[test]
    fn forms_reject_repeats_and_drop_empty_values() {
        let p = form_request("a=1&b=&c=x%20y").form().unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(form_request("a=1&a=2").form().unwrap_err(), ParamError::Repeated("a".into()));
        let mut json = form_request("a=1");
        json.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(json.form().unwrap_err(), ParamError::NotAForm);
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let mut r = Request::new(Method::POST, "/");
        let encoded = B64_STD.encode("my%3Aclient:p%40ss+word");
        r.headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {encoded}")).unwrap());
        assert_eq!(r.basic_credentials(), Some(Ok(("my:client".into(), "p@ss word".into()))));
        r.headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(r.basic_credentials(), Some(Err(())));
        r.headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(r.basic_credentials(), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut r = Request::new(Method::GET, "/x?y=1");
        assert_eq!(r.query.as_deref(), Some("y=1"));
        r.headers.insert(header::COOKIE, HeaderValue::from_static("a=1; ST=abc; b=2"));
        assert_eq!(r.cookie("ST"), Some("abc"));
        assert_eq!(r.cookie("c"), None);
    }
}
