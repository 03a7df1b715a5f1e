//! `AppJson<T>`: JSON bodies whose rejections are [`AppError`]s, so bad input gets our envelope.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON request body. An empty body deserializes as `{}` (supabase-js sends none on some POSTs).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadJson(e.body_text().into())
                }
            })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map(AppJson).map_err(|e| {
            AppError::BadJson(format!("could not parse request body as JSON: {e}").into())
        })
    }
}

/// Maps axum's own JSON rejection (for handlers that use `axum::Json`).
impl From<JsonRejection> for AppError {
    fn from(e: JsonRejection) -> Self {
        AppError::BadJson(e.body_text().into())
    }
}
