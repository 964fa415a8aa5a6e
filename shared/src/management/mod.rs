//! The PingOne management API (`/v1/environments/...`, PING-MGMT): environments, applications
//! with their secrets and role assignments, populations, users and their passwords. Every call
//! carries a worker application's access token (`auth`); every answer that is not 2xx is
//! PingOne's error object; resources and collections come in PingOne's HAL shape (`hal`).

mod application_body;
mod application_secret;
pub mod applications;
pub mod auth;
mod body;
pub mod environments;
pub mod hal;
pub mod populations;
mod user_filter;
pub mod users;

use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::StatusCode;

use crate::context::Context;
use crate::error::{ErrorDetail, ErrorResponse, FlowError};
use crate::http::{Request, Response};
use crate::store::{Applied, StoreError, Write};

pub use body::Body;

/// A management failure: PingOne's error object, with the bearer challenge on a 401.
#[derive(Debug)]
pub struct ApiError {
    pub error: FlowError,
    challenge: Option<&'static str>,
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> Self {
        Self { error, challenge: None }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        FlowError::from(err).into()
    }
}

impl ErrorResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

const ACCESS_MESSAGE: &str = "The request could not be completed. You do not have access to this resource.";

impl ApiError {
    /// 401 `ACCESS_FAILED` / `INVALID_TOKEN` with `WWW-Authenticate: Bearer` (RFC 6750 §3: the
    /// error code only when a token was presented).
    pub fn unauthorized(token_presented: bool) -> Self {
        let error = FlowError {
            status: StatusCode::UNAUTHORIZED,
            code: "ACCESS_FAILED",
            message: ACCESS_MESSAGE.into(),
            details: vec![detail(
                "INVALID_TOKEN",
                None,
                "Send a worker application's unexpired access token: Authorization: Bearer <token> from the \
                 client_credentials grant.",
            )],
        };
        let challenge = if token_presented {
            "Bearer realm=\"PingOne\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"PingOne\""
        };
        Self { error, challenge: Some(challenge) }
    }

    /// 403 `ACCESS_FAILED` / `INSUFFICIENT_PERMISSIONS` (PING-MGMT §2.3).
    pub fn forbidden(message: &str) -> Self {
        FlowError {
            status: StatusCode::FORBIDDEN,
            code: "ACCESS_FAILED",
            message: ACCESS_MESSAGE.into(),
            details: vec![detail("INSUFFICIENT_PERMISSIONS", None, message)],
        }
        .into()
    }

    /// 404 `NOT_FOUND` naming what was not found.
    pub fn not_found(what: &str, id: &str) -> Self {
        let mut error = FlowError::not_found();
        let shown: String = id.chars().take(64).collect();
        error.details = vec![detail("NOT_FOUND", None, &format!("Unable to find {what} with ID: '{shown}'."))];
        error.into()
    }

    /// 400 `INVALID_DATA` with one detail per failed property.
    pub fn invalid(details: Vec<ErrorDetail>) -> Self {
        let mut error = FlowError::invalid_data("INVALID_VALUE", None, "");
        error.details = details;
        error.into()
    }

    /// 400 `INVALID_DATA` / `UNIQUENESS_VIOLATION` on `target`.
    pub fn taken(target: &'static str, message: &str) -> Self {
        FlowError::invalid_data("UNIQUENESS_VIOLATION", Some(target), message).into()
    }

    pub fn invalid_request(status: StatusCode, message: impl Into<String>) -> Self {
        FlowError::invalid_request(message).with_status(status).into()
    }

    /// 409: the resource changed while this request was applied; nothing was written.
    pub fn changed_meanwhile() -> Self {
        FlowError::invalid_request(
            "The request could not be completed. The resource was changed by another request meanwhile; \
             nothing was written. Read it again and retry.",
        )
        .with_status(StatusCode::CONFLICT)
        .into()
    }
}

pub fn detail(code: &'static str, target: Option<&'static str>, message: &str) -> ErrorDetail {
    ErrorDetail { code, target, message: message.to_owned(), inner_error: None }
}

/// Applies a change; a conflict is answered by `on_conflict(index of the failed write)`.
pub async fn apply(ctx: &Context<'_>, writes: &[Write], on_conflict: impl FnOnce(&Write) -> ApiError) -> ApiResult<()> {
    match ctx.app.store.apply(writes).await? {
        Applied::Applied => Ok(()),
        Applied::Conflict(i) => Err(writes.get(i).map_or_else(ApiError::changed_meanwhile, on_conflict)),
    }
}

/// The management resource families, one Lambda function each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Environments,
    Applications,
    Populations,
    Users,
}

/// Serves a management route of `family`.
pub async fn handle(family: Family, ctx: &Context<'_>, req: &Request) -> Response {
    let result = match family {
        Family::Environments => environments::handle(ctx, req).await,
        Family::Applications => applications::handle(ctx, req).await,
        Family::Populations => populations::handle(ctx, req).await,
        Family::Users => users::handle(ctx, req).await,
    };
    result.unwrap_or_else(ErrorResponse::into_response)
}

/// The handlers of each family's Lambda function: each calls its family alone, so a function
/// links only its own family's code.
pub async fn environments(ctx: &Context<'_>, req: &Request) -> Response {
    environments::handle(ctx, req).await.unwrap_or_else(ErrorResponse::into_response)
}

pub async fn applications(ctx: &Context<'_>, req: &Request) -> Response {
    applications::handle(ctx, req).await.unwrap_or_else(ErrorResponse::into_response)
}

pub async fn populations(ctx: &Context<'_>, req: &Request) -> Response {
    populations::handle(ctx, req).await.unwrap_or_else(ErrorResponse::into_response)
}

pub async fn users(ctx: &Context<'_>, req: &Request) -> Response {
    users::handle(ctx, req).await.unwrap_or_else(ErrorResponse::into_response)
}
