//! The one error type of bizbase.
//!
//! Every failure a handler can report is an [`AppError`]; each variant has an HTTP status and a
//! stable snake_case code that clients switch on. `into_response` has no side effects: it puts the
//! error into the response extensions, and the error middleware (`crate::http::errors`) renders it
//! in the shape of the surface that was called (native, GoTrue, PostgREST or Storage) and logs
//! internal faults once, with the request id.

mod render;

use std::{borrow::Cow, sync::Arc};

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
pub use render::{Surface, render};

/// Result alias used by handlers and services.
pub type AppResult<T> = Result<T, AppError>;

/// Message text; static for the common case.
pub type Text = Cow<'static, str>;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input failed validation (`validation_failed`, 400).
    #[error("{0}")]
    Validation(Text),
    /// A bad request with its own code (400), e.g. `invalid_credentials`.
    #[error("{message}")]
    BadRequest {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// The body is not the JSON expected (`bad_json`, 400).
    #[error("{0}")]
    BadJson(Text),
    /// No or bad credentials (401); `code` says which, e.g. `no_authorization`.
    #[error("{message}")]
    Unauthorized {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// Authenticated but not allowed (403); `code` says why, e.g. `not_admin`.
    #[error("{message}")]
    Forbidden {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// The thing asked for does not exist (404).
    #[error("{message}")]
    NotFound {
        /// Stable machine code, e.g. `not_found`, `user_not_found`.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// The HTTP method is not served at this path (`method_not_allowed`, 405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// Well-formed but refused by a business rule (422), e.g. `weak_password`.
    #[error("{message}")]
    Unprocessable {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// The password does not meet the policy (`weak_password`, 422); GoTrue adds the reasons.
    #[error("password is too weak")]
    WeakPassword {
        /// `length`, `characters`, …
        reasons: Vec<&'static str>,
    },
    /// The body's media type is refused (415), e.g. a bucket's `invalid_mime_type`.
    #[error("{message}")]
    UnsupportedMediaType {
        /// Stable machine code.
        code: &'static str,
        /// Human message.
        message: Text,
    },
    /// The body exceeds the configured limit (`payload_too_large`, 413).
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too many requests from this client (`over_request_rate_limit`, 429).
    #[error("Request rate limit reached")]
    RateLimited {
        /// Seconds until a retry may succeed (sent as `Retry-After`).
        retry_after: u64,
    },
    /// Too many requests of one kind, with its own code and message (429).
    #[error("{message}")]
    RateLimitedWith {
        /// Stable machine code, e.g. `over_email_send_rate_limit`.
        code: &'static str,
        /// Human message.
        message: Text,
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// An OAuth 2.0 token-endpoint error (400), which GoTrue renders as
    /// `{"error", "error_description"}` whatever the API version, e.g. a missing refresh token.
    #[error("{description}")]
    OAuth {
        /// The OAuth error code, e.g. `invalid_request`.
        error: &'static str,
        /// Human description.
        description: Text,
    },
    /// The request took longer than the configured timeout (`request_timeout`, 504).
    #[error("request timed out")]
    Timeout,
    /// A dependency (the database) is unavailable (`service_unavailable`, 503).
    #[error("service unavailable: {0}")]
    Unavailable(Text),
    /// A data-API error in PostgREST's terms (status, PGRST code or SQLSTATE, details, hint).
    #[error("{}", .0.message)]
    Pgrst(Box<crate::rest::errors::PgrstError>),
    /// A database failure that is not the client's fault (`internal`, 500).
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Any other internal fault (`internal`, 500).
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A `validation_failed` error.
    pub fn validation(message: impl Into<Text>) -> Self {
        Self::Validation(message.into())
    }

    /// A client error with its own code and the given 4xx status (401, 403, 404, 409 and 422
    /// keep theirs; any other is a 400).
    pub fn client(status: u16, code: &'static str, message: impl Into<Text>) -> Self {
        let message = message.into();
        match status {
            401 => Self::Unauthorized { code, message },
            403 => Self::Forbidden { code, message },
            404 => Self::NotFound { code, message },
            409 => Self::Conflict { code, message },
            422 => Self::Unprocessable { code, message },
            _ => Self::BadRequest { code, message },
        }
    }

    /// A 400 with its own code.
    pub fn bad_request(code: &'static str, message: impl Into<Text>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A `not_found` error.
    pub fn not_found(message: impl Into<Text>) -> Self {
        Self::NotFound {
            code: "not_found",
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::BadJson(_)
            | Self::BadRequest { .. }
            | Self::OAuth { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } | Self::WeakPassword { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::RateLimitedWith { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Pgrst(e) => e.status,
            Self::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadJson(_) => "bad_json",
            Self::OAuth { error, .. } => error,
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::UnsupportedMediaType { code, .. }
            | Self::RateLimitedWith { code, .. } => code,
            Self::WeakPassword { .. } => "weak_password",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "over_request_rate_limit",
            Self::Timeout => "request_timeout",
            Self::Unavailable(_) => "service_unavailable",
            Self::Pgrst(_) => "data_api_error",
            Self::Database(e) if is_unavailable(e) => "service_unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }

    /// The message a client may see. Internal faults never reveal their cause.
    pub fn public_message(&self) -> Cow<'static, str> {
        match self {
            Self::Database(e) if is_unavailable(e) => "the database is unavailable".into(),
            Self::Database(_) | Self::Internal(_) => "internal error".into(),
            Self::Validation(m) | Self::BadJson(m) | Self::Unavailable(m) => m.clone(),
            Self::OAuth { description, .. } => description.clone(),
            Self::Pgrst(e) => e.message.clone().into(),
            Self::BadRequest { message, .. }
            | Self::Unauthorized { message, .. }
            | Self::Forbidden { message, .. }
            | Self::NotFound { message, .. }
            | Self::Conflict { message, .. }
            | Self::Unprocessable { message, .. }
            | Self::UnsupportedMediaType { message, .. }
            | Self::RateLimitedWith { message, .. } => message.clone(),
            Self::WeakPassword { reasons } => format!(
                "Password is too weak: {}",
                reasons
                    .iter()
                    .map(|r| match *r {
                        "length" => "it is too short",
                        "characters" => "it lacks required character classes",
                        "pwned" => "it is known from data breaches, please choose a different one",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
            other => other.to_string().into(),
        }
    }

    /// An error for a bare status produced by a layer that does not know [`AppError`] (a tower-http
    /// limit, an axum rejection), so every error body has the same shape.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::NOT_FOUND => Self::not_found("not found"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => Self::Timeout,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::Validation("unsupported content type".into())
            }
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited { retry_after: 1 },
            s if s.is_client_error() => {
                Self::Validation(s.canonical_reason().unwrap_or("bad request").into())
            }
            s => Self::Internal(anyhow::anyhow!("a layer answered {s}")),
        }
    }
}

impl From<sqlx::Error> for AppError {
    /// A database error, except text the client sent that PostgreSQL cannot store: a NUL
    /// character (`\u0000` in JSON) in a text value (SQLSTATE 22021) or in `jsonb` (22P05) is the
    /// request's fault, a `validation_failed`, not a 500.
    fn from(e: sqlx::Error) -> Self {
        let unstorable = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| {
                let c: &str = &c;
                c == "22021" || c == "22P05"
            });
        match unstorable {
            true => Self::Validation("Text may not contain the NUL character (\\u0000)".into()),
            false => Self::Database(e),
        }
    }
}

/// Whether a database error means "the database cannot be reached" rather than a bug.
fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

/// The error as carried from a handler to the error middleware.
#[derive(Debug, Clone)]
pub struct ErrorExt(pub Arc<AppError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorExt(Arc::new(self)));
        response
    }
}

#[cfg(test)]
mod tests;
