//! The gateway rules Supabase's Kong applies in front of Auth and PostgREST (§1.3): an `apikey`
//! is required (except on the routes browsers reach from e-mail links), and a request without
//! its own `Authorization` acts with the apikey's.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::app::AppState;

/// Routes under `/auth/v1` that need no apikey.
const OPEN_AUTH_ROUTES: &[&str] = &[
    "/auth/v1/verify",
    "/auth/v1/callback",
    "/auth/v1/authorize",
    "/auth/v1/.well-known/jwks.json",
];

fn reject(message: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": message })),
    )
        .into_response()
}

/// Middleware for `/auth/v1` and `/rest/v1`.
pub async fn require_apikey(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if OPEN_AUTH_ROUTES.contains(&path) {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return reject("No API key found in request");
    };
    let known = app.auth.signer.verify(&key).ok().is_some_and(|claims| {
        matches!(
            claims.get("role").and_then(Value::as_str),
            Some("anon" | "service_role")
        )
    });
    if !known {
        return reject("Invalid authentication credentials");
    }
    let has_authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty() && !v.starts_with("Bearer sb_"));
    if !has_authorization && let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}")) {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    next.run(req).await
}
