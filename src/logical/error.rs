//! The error type every backend returns. It says what went wrong in Vault's
//! terms; `http::respond` maps each kind to a status code in exactly one place.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad parameters or a request the backend refuses: 400.
    #[error("{0}")]
    BadRequest(String),
    /// A 400 that also carries data (Vault's error response with `data`).
    #[error("{message}")]
    BadRequestWithData { message: String, data: Value },
    /// A 400 Vault answers without a message (`{"errors":[]}`), e.g. a
    /// non-boolean `?list=` or a non-integer `sys/health` code.
    #[error("invalid request")]
    InvalidRequest,
    /// A backend's own "permission denied" (e.g. failed login): 403 with the bare text.
    #[error("permission denied")]
    PermissionDenied,
    /// A 403 with a specific message.
    #[error("{0}")]
    Forbidden(String),
    /// The ACL denied the request or the token is missing/invalid: 403 in multierror form.
    #[error("permission denied")]
    AclDenied { invalid_token: bool },
    /// A read or list found nothing: 404 with an empty `errors` array.
    #[error("not found")]
    NotFound,
    /// No path of the mount matched: 404 `unsupported path`.
    #[error("unsupported path")]
    UnsupportedPath,
    /// No mount matched: 404 `no handler for route`.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    /// The path exists but not with this operation: 405.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// An HTTP method Vault does not know: 405 with an empty `errors`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A request path with a non-printable character: 400 with no body,
    /// as Vault's outermost handler answers it.
    #[error("non-printable character in the request path")]
    NonPrintablePath,
    /// A request head over Go's `MaxHeaderBytes`: 431 with no body, as
    /// Go's server answers it.
    #[error("request header fields too large")]
    HeadTooLarge,
    /// A body over the request size limit: 413.
    #[error("http: request body too large")]
    PayloadTooLarge,
    /// PATCH without `application/merge-patch+json`: 415.
    #[error("PATCH requires Content-Type application/merge-patch+json")]
    UnsupportedMediaType,
    /// The server cannot serve requests until unsealed: 503.
    #[error("Vault is sealed")]
    Sealed,
    /// A standby that knows of no active node: 503, retryable.
    #[error("local node not active but active cluster node not found")]
    NoActiveNode,
    /// The request must write and this node may not (a standby, or a
    /// former active fenced off the store): a standby sends it to the
    /// active; anywhere else it is a 503, retryable.
    #[error("cannot write to readonly storage")]
    ReadOnly,
    /// The store cannot be reached (database down, connection lost): 503,
    /// retryable. The cause is logged, not sent.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// A failure of our own (storage, crypto): 500. The text is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
}

impl From<crate::storage::StorageError> for Error {
    fn from(err: crate::storage::StorageError) -> Self {
        match err {
            crate::storage::StorageError::Unavailable(why) => Error::StorageUnavailable(why),
            crate::storage::StorageError::ReadOnly => Error::ReadOnly,
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::Internal(format!("encoding: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
