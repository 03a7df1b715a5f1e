//! Who is calling and how database refusals become Storage errors.
//!
//! The identity is the data API's ([`crate::rest::context::identity`]): the same bearer token
//! rules, role and claims, so RLS on `storage.*` sees exactly what it sees on `public.*`.

use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::identity::{DbRole, Identity},
    error::AppError,
};

/// The caller's identity; a bad or expired token is `AccessDenied` (Storage's 400 + "403").
pub fn caller(
    app: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Identity, AppError> {
    crate::rest::context::identity(app, method, path, headers).map_err(|e| AppError::Forbidden {
        code: "access_denied",
        message: e.message.into(),
    })
}

/// The caller's identity for routes that accept an invalid token as anonymous (downloads).
pub fn caller_or_anon(
    app: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Identity {
    caller(app, method, path, headers).unwrap_or_else(|_| Identity::new(DbRole::Anon, json!({})))
}

/// The `sub` of the caller: `owner_id` as text, `owner` when it is a UUID.
pub fn owner(who: &Identity) -> (Option<Uuid>, Option<String>) {
    let sub = who
        .claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned);
    (sub.as_deref().and_then(|s| Uuid::parse_str(s).ok()), sub)
}

/// A database error in Storage's terms: an RLS or privilege refusal is `AccessDenied`, a unique
/// violation is `conflict` (e.g. `key_already_exists`), a foreign-key violation is
/// `foreign_key` (the caller says what it means); anything else stays internal.
pub fn db_error(e: sqlx::Error, conflict: &'static str, foreign_key: AppError) -> AppError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    match code.as_deref() {
        Some("42501") => AppError::Forbidden {
            code: "access_denied",
            message: e
                .as_database_error()
                .map_or_else(|| "access denied".to_owned(), |d| d.message().to_owned())
                .into(),
        },
        Some("23505") => AppError::Conflict {
            code: conflict,
            message: "The resource already exists".into(),
        },
        Some("23503") => foreign_key,
        _ => AppError::from(e),
    }
}

/// `Bucket not found` (Storage's `NoSuchBucket`).
pub fn bucket_not_found() -> AppError {
    AppError::NotFound {
        code: "bucket_not_found",
        message: "Bucket not found".into(),
    }
}

/// `Object not found` (Storage's `NoSuchKey`).
pub fn object_not_found() -> AppError {
    AppError::NotFound {
        code: "object_not_found",
        message: "Object not found".into(),
    }
}
