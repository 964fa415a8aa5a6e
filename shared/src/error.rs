//! The two error shapes the server answers with, each the single exit for its failures:
//! OAuth errors (RFC 6749 §5.2, with PingFederate's exact texts) and the PingOne error object
//! of the flow API (PING-COMPAT §4.6).

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::StatusCode;
use serde::Serialize;

use crate::http::{json, no_store, Response};
use crate::store::StoreError;

/// An error that knows its HTTP answer.
pub trait ErrorResponse {
    fn into_response(self) -> Response;
}

/// The response of a handler: the answer, or the error's answer.
pub fn finish<E: ErrorResponse>(result: Result<Response, E>) -> Response {
    result.unwrap_or_else(ErrorResponse::into_response)
}

/// An OAuth error answer of the device authorization and token endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Set when the client tried HTTP Basic (RFC 6749 §5.2: answer with the scheme it used).
    pub www_authenticate: Option<&'static str>,
    /// Seconds to wait, for a `Retry-After` header (RFC 9110 §10.2.3).
    pub retry_after: Option<i64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), www_authenticate: None, retry_after: None }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// PingFederate's text (seed 001).
    pub fn invalid_client() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client or client credentials.")
    }

    /// PingFederate's text (seed 001).
    pub fn invalid_scope() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope(s) must be blank or a subset of the provided scopes.",
        )
    }

    pub fn unauthorized_client(grant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!("The client is not authorized to use the {grant} grant type."),
        )
    }

    pub fn unsupported_grant_type(grant: &str) -> Self {
        // Echo only what could be a grant type name, never a long attacker-chosen string.
        let description = if grant.len() <= 100 && grant.bytes().all(|b| b.is_ascii_graphic()) {
            format!("The grant type '{grant}' is not supported.")
        } else {
            "The grant type is not supported.".to_owned()
        };
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", description)
    }

    /// PingFederate's text (seed 000): unknown, other client's or already redeemed device code.
    pub fn invalid_device_code() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", "Device code not found, expired or invalid")
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// PingFederate's text (seed 000).
    pub fn access_denied() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "access_denied", "Authorization request is denied")
    }

    /// PingFederate's text (seed 000).
    pub fn expired_token() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "expired_token", "The authorization request has expired.")
    }

    pub fn authorization_pending() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The authorization request is still pending; poll again after the interval.",
        )
    }

    pub fn slow_down(interval: u32) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "slow_down",
            format!("Polling too fast; wait at least {interval} seconds between requests."),
        )
    }

    /// 503 with `Retry-After: 1`: the store failed or timed out; the request changed nothing
    /// the client can observe, and the same request may be sent again.
    pub fn temporarily_unavailable() -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server could not reach its store; retry the request shortly.",
        );
        err.retry_after = Some(1);
        err
    }

    /// 429 with `Retry-After`: a rate limit of this endpoint was reached. `temporarily_unavailable`
    /// is the registered OAuth error for a server that cannot take the request now (RFC 6749
    /// §4.1.2.1); RFC 6749 has no code of its own for rate limits.
    pub fn rate_limited(description: impl Into<String>, retry_after: i64) -> Self {
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description);
        err.retry_after = Some(retry_after.max(1));
        err
    }

    /// A function that could not start properly (its log says why).
    pub fn not_configured() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server is not configured; its operator finds the reason in the server's logs.",
        )
    }

    pub fn with_basic_challenge(mut self, used_basic: bool) -> Self {
        if used_basic {
            self.www_authenticate = Some("Basic realm=\"PingFederate\"");
        }
        self
    }
}

impl ErrorResponse for OAuthError {
    fn into_response(self) -> Response {
        // PingFederate writes error_description before error; a struct keeps that order.
        #[derive(Serialize)]
        struct Body<'a> {
            error_description: &'a str,
            error: &'a str,
        }
        let mut response =
            no_store(json(self.status, &Body { error_description: &self.description, error: self.error }));
        if let Some(challenge) = self.www_authenticate {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store request failed");
        Self::temporarily_unavailable()
    }
}

/// One entry of `details` in a PingOne error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'static str>,
    pub message: String,
    #[serde(rename = "innerError", skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<serde_json::Value>,
}

/// The PingOne error object (`id`, `code`, `message`, `details`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl FlowError {
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "The request could not be completed. The requested resource was not found.".into(),
            details: Vec::new(),
        }
    }

    /// `INVALID_DATA` with one detail naming what was wrong.
    pub fn invalid_data(detail: &'static str, target: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_DATA",
            message: "The request could not be completed. One or more validation errors were in the request.".into(),
            details: vec![ErrorDetail { code: detail, target, message: message.into(), inner_error: None }],
        }
    }

    /// `REQUEST_LIMITED` (429) for too many wrong attempts at `target`, with the wait when there is one.
    pub fn too_many_attempts(
        target: &'static str,
        message: impl Into<String>,
        seconds_until_unlock: Option<i64>,
    ) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "REQUEST_LIMITED",
            message: message.clone(),
            details: vec![ErrorDetail {
                code: "TOO_MANY_ATTEMPTS",
                target: Some(target),
                message,
                inner_error: seconds_until_unlock.map(|s| serde_json::json!({ "secondsUntilUnlock": s })),
            }],
        }
    }

    /// PingOne's answer for an account locked after wrong passwords (PING-COMPAT §1.6):
    /// `PASSWORD_LOCKED_OUT` with `innerError.secondsUntilUnlock`.
    pub fn password_locked_out(seconds_until_unlock: i64) -> Self {
        let mut err = Self::invalid_data(
            "PASSWORD_LOCKED_OUT",
            Some("password"),
            format!(
                "Too many failed sign-ons. The account is locked for this network; try again in {} minutes.",
                (seconds_until_unlock + 59) / 60
            ),
        );
        err.details[0].inner_error = Some(serde_json::json!({ "secondsUntilUnlock": seconds_until_unlock }));
        err
    }

    /// `ACCESS_FAILED` (403): the flow belongs to another browser (PING-COMPAT §4.6).
    pub fn not_your_flow() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "ACCESS_FAILED",
            message: "The request could not be completed. You do not have access to this resource.".into(),
            details: vec![ErrorDetail {
                code: "INSUFFICIENT_PERMISSIONS",
                target: None,
                message: "A flow answers only the browser or client that started it: send the cookies its start set."
                    .into(),
                inner_error: None,
            }],
        }
    }

    /// `METHOD_NOT_ALLOWED` (405) on a flow API path.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "METHOD_NOT_ALLOWED",
            message: format!("The request could not be completed. This resource accepts only {allowed}."),
            details: Vec::new(),
        }
    }

    /// `INVALID_REQUEST` with another status (413, 400 for a broken body).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "INVALID_REQUEST", message: message.into(), details: Vec::new() }
    }

    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "UNEXPECTED_ERROR",
            message: "The request could not be completed. The server could not reach its store; retry shortly.".into(),
            details: Vec::new(),
        }
    }
}

impl ErrorResponse for FlowError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            id: String,
            code: &'a str,
            message: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            details: &'a [ErrorDetail],
        }
        let body = Body {
            id: uuid::Uuid::new_v4().to_string(),
            code: self.code,
            message: &self.message,
            details: &self.details,
        };
        let mut response = no_store(json(self.status, &body));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(1));
        }
        response
    }
}

impl From<StoreError> for FlowError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store request failed");
        Self::unavailable()
    }
}
