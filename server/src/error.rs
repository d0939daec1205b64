//! The one error type of request handling, mapped to the errors-queue body
//! `{error, message, timestamp}` (docs/protocol.md §3.5) in one place.

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
