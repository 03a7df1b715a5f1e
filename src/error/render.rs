//! The wire shapes of an [`AppError`], one per compatible surface (see
//! `reference/supabase-api.md` §2.2, §3.8 and §4.8).

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::AppError;

/// Which API a request was made to; it decides the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// bizbase's own endpoints: `{"code","message"}`.
    Native,
    /// `/auth/v1`, GoTrue's shape (versioned by `X-Supabase-Api-Version`).
    GoTrue {
        /// The client sent `X-Supabase-Api-Version` ≥ 2024-01-01.
        versioned: bool,
    },
    /// `/rest/v1`, PostgREST's `{"code","message","details","hint"}`.
    PostgRest,
    /// `/storage/v1`, Supabase Storage's shape with its 400-status quirk.
    Storage,
}

impl Surface {
    /// The surface a request path belongs to.
    pub fn for_path(path: &str, api_version: Option<&str>) -> Self {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/auth/v1") {
            Self::GoTrue {
                versioned: api_version.is_some_and(asks_for_2024_shape),
            }
        } else if under("/rest/v1") {
            Self::PostgRest
        } else if under("/storage/v1") {
            Self::Storage
        } else {
            Self::Native
        }
    }
}

/// Whether an `X-Supabase-Api-Version` value is a date (`YYYY-MM-DD`) on or after 2024-01-01, as
/// GoTrue reads it; anything else gets the older shape.
fn asks_for_2024_shape(value: &str) -> bool {
    chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .is_ok_and(|d| d >= chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default())
}

/// The API version GoTrue echoes when the client asked for the 2024 error shape.
const GOTRUE_API_VERSION: &str = "2024-01-01";

/// Renders `err` for `surface`; `request_id` is shown only for internal faults.
pub fn render(err: &AppError, surface: Surface, request_id: &str) -> Response {
    let status = err.status();
    let internal = status.is_server_error();
    let message = err.public_message();
    let mut response = match surface {
        Surface::PostgRest if let AppError::Pgrst(e) = err => pgrst(e, status),
        Surface::Native => {
            let mut body = json!({ "code": err.code(), "message": message });
            if internal {
                body["error_id"] = request_id.into();
            }
            (status, Json(body)).into_response()
        }
        Surface::GoTrue { versioned } => gotrue(err, status, &message, versioned, request_id),
        Surface::PostgRest => {
            let (code, message) = match err {
                AppError::NotFound {
                    code: "not_found", ..
                } => ("PGRST125", "Invalid path specified in request URL".into()),
                AppError::MethodNotAllowed => ("PGRST117", "Unsupported HTTP method".into()),
                AppError::BadJson(_) => ("PGRST102", message),
                _ => (err.code(), message),
            };
            let mut body =
                json!({ "code": code, "message": message, "details": null, "hint": null });
            if internal {
                body["error_id"] = request_id.into();
            }
            let mut r = (status, Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={code}")) {
                r.headers_mut()
                    .insert(HeaderName::from_static("proxy-status"), v);
            }
            r
        }
        Surface::Storage => storage(err, status, &message, request_id),
    };
    if let AppError::RateLimited { retry_after } | AppError::RateLimitedWith { retry_after, .. } =
        err
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    response
}

fn pgrst(e: &crate::rest::errors::PgrstError, status: StatusCode) -> Response {
    let body =
        json!({ "code": e.code, "message": e.message, "details": e.details, "hint": e.hint });
    let mut r = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", e.code)) {
        r.headers_mut()
            .insert(HeaderName::from_static("proxy-status"), v);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let description = e.message.replace('"', "'");
        if let Ok(v) = HeaderValue::from_str(&format!(
            "Bearer error=\"invalid_token\", error_description=\"{description}\""
        )) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

fn gotrue(
    err: &AppError,
    status: StatusCode,
    message: &str,
    versioned: bool,
    request_id: &str,
) -> Response {
    let code = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        "unexpected_failure"
    } else {
        err.code()
    };
    let mut body = if let AppError::OAuth { error, description } = err {
        json!({ "error": error, "error_description": description })
    } else if versioned {
        json!({ "code": code, "message": message })
    } else {
        json!({ "code": status.as_u16(), "error_code": code, "msg": message })
    };
    if status.is_server_error() {
        body["error_id"] = request_id.into();
    }
    if let AppError::WeakPassword { reasons } = err {
        body["weak_password"] = json!({ "reasons": reasons, "message": message });
    }
    let mut r = (status, Json(body)).into_response();
    let headers = r.headers_mut();
    if versioned {
        headers.insert(
            HeaderName::from_static("x-supabase-api-version"),
            HeaderValue::from_static(GOTRUE_API_VERSION),
        );
    }
    headers.insert(
        HeaderName::from_static("x-sb-error-code"),
        HeaderValue::from_static(code),
    );
    r
}

fn storage(err: &AppError, status: StatusCode, message: &str, request_id: &str) -> Response {
    let (code, error) = match err {
        AppError::NotFound {
            code: "not_found", ..
        } => ("InvalidRequest", "Not Found"),
        _ if let Some(named) = storage_code(err.code()) => named,
        AppError::NotFound { .. } => ("NoSuchKey", "not_found"),
        AppError::Unauthorized { .. } | AppError::Forbidden { .. } => {
            ("AccessDenied", "Unauthorized")
        }
        AppError::Conflict { .. } => ("ResourceAlreadyExists", "Duplicate"),
        AppError::PayloadTooLarge => ("EntityTooLarge", "Payload too large"),
        AppError::RateLimited { .. } | AppError::RateLimitedWith { .. } => {
            ("SlowDown", "too_many_requests")
        }
        _ if status.is_server_error() => ("InternalError", "internal"),
        _ => ("InvalidRequest", "invalid_request"),
    };
    let message = match err {
        AppError::PayloadTooLarge => "The object exceeded the maximum allowed size",
        _ => message,
    };
    let mut body: Value = json!({ "statusCode": status.as_u16().to_string(), "code": code, "error": error, "message": message });
    if status.is_server_error() {
        body["error_id"] = request_id.into();
    }
    // Storage answers every client error with HTTP 400 and the real status in the body, except an
    // unknown route (a real 404) and rate limiting (a real 429); storage-js relies on this.
    let http_status = match err {
        _ if status.is_server_error() => status,
        AppError::NotFound {
            code: "not_found", ..
        }
        | AppError::RateLimited { .. } => status,
        _ => StatusCode::BAD_REQUEST,
    };
    (http_status, Json(body)).into_response()
}

/// Storage's own `code` and legacy `error` for the codes `crate::storage` reports.
fn storage_code(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "bucket_not_found" => ("NoSuchBucket", "Bucket not found"),
        "object_not_found" => ("NoSuchKey", "not_found"),
        "key_already_exists" => ("KeyAlreadyExists", "Duplicate"),
        "bucket_already_exists" => ("BucketAlreadyExists", "Duplicate"),
        "resource_not_empty" => ("ResourceNotEmpty", "Conflict"),
        "access_denied" => ("AccessDenied", "Unauthorized"),
        "invalid_mime_type" => ("InvalidMimeType", "invalid_mime_type"),
        "entity_too_large" => ("EntityTooLarge", "Payload too large"),
        "invalid_key" => ("InvalidKey", "Invalid Input"),
        "invalid_bucket_name" => ("InvalidBucketName", "Invalid Input"),
        "invalid_range" => ("InvalidRange", "Invalid Range"),
        "invalid_jwt" => ("InvalidJWT", "InvalidJWT"),
        "invalid_signature" => ("InvalidSignature", "InvalidSignature"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::asks_for_2024_shape;

    #[test]
    fn only_dates_from_2024_on_ask_for_the_2024_shape() {
        for yes in ["2024-01-01", "2025-06-30", " 2024-01-01 "] {
            assert!(asks_for_2024_shape(yes), "{yes}");
        }
        for no in ["2023-12-31", "zzzz", "", "2024-13-01", "3"] {
            assert!(!asks_for_2024_shape(no), "{no}");
        }
    }
}
