//! The one error type of request handling, mapped in one place to what clients see:
//! the errors-queue body `{error, message, timestamp}` (docs/protocol.md §3.5) over
//! STOMP, and that body with the status of [`ApiError::status`] over HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use chatkitty_protocol::error::{names, ErrorBody};

use crate::store::StoreError;

/// A failed relay or action, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Machine-readable name (see [`chatkitty_protocol::error::names`]).
    pub name: &'static str,
    /// Human-readable text.
    pub message: String,
}

impl ApiError {
    /// An error with a name and message.
    pub fn new(name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            name,
            message: message.into(),
        }
    }

    /// `NotFoundError`.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(names::NOT_FOUND, format!("{what} was not found."))
    }

    /// `ValidationError`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(names::VALIDATION, message)
    }

    /// `NotAChannelMemberError`.
    pub fn not_a_member(channel_name: &str) -> ApiError {
        ApiError::new(
            names::NOT_A_CHANNEL_MEMBER,
            format!("You are not a member of channel {channel_name}."),
        )
    }

    /// `ForbiddenError`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(names::FORBIDDEN, message)
    }

    /// `UnsupportedOperationError`.
    pub fn unsupported(what: &str) -> ApiError {
        ApiError::new(
            names::UNSUPPORTED_OPERATION,
            format!("{what} is not supported by this server."),
        )
    }

    /// `InternalError`: the details are logged, never sent.
    pub fn internal() -> ApiError {
        ApiError::new(
            names::INTERNAL,
            "Something went wrong on the server. Please try again.",
        )
    }

    /// The wire body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.name, self.message.clone(), crate::clock::now_iso())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::internal()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The HTTP status of an error of this name (the one table of them).
    pub fn status(&self) -> StatusCode {
        match self.name {
            names::NOT_FOUND => StatusCode::NOT_FOUND,
            names::VALIDATION | names::UNSUPPORTED_OPERATION => StatusCode::BAD_REQUEST,
            names::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            names::ACCESS_DENIED => StatusCode::UNAUTHORIZED,
            names::FORBIDDEN | names::NOT_A_CHANNEL_MEMBER | names::USER_BLOCKED => {
                StatusCode::FORBIDDEN
            }
            names::DUPLICATE_CHANNEL => StatusCode::CONFLICT,
            names::MESSAGE_REJECTED => StatusCode::UNPROCESSABLE_ENTITY,
            names::RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
            names::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// An error answered with a status other than its name's ([`ApiError::status`]): a
/// deleted file's 410, a busy address's 503.
#[derive(Debug)]
pub struct HttpError(pub StatusCode, pub ApiError);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1.body())).into_response()
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e.status(), e)
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// HTTP handler result.
pub type HttpResult<T> = Result<T, HttpError>;
