//! Turns every error response into the shape of the surface that was called, and logs each
//! internal fault exactly once, inside the request's span.

use axum::{
    extract::Request,
    http::{HeaderMap, header},
    middleware::Next,
    response::Response,
};

use super::RequestId;
use crate::error::{AppError, ErrorExt, Surface, render};

/// Middleware: renders [`AppError`]s (and bare error statuses from other layers) per surface.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let api_version = req
        .headers()
        .get("x-supabase-api-version")
        .and_then(|v| v.to_str().ok());
    let surface = Surface::for_path(req.uri().path(), api_version);
    let request_id = req.extensions().get::<RequestId>().cloned();
    let response = next.run(req).await;

    let error = match response.extensions().get::<ErrorExt>() {
        Some(ErrorExt(e)) => e.clone(),
        None if needs_rendering(&response) => AppError::from_status(response.status()).into(),
        None => return response,
    };
    if error.status().is_server_error() {
        tracing::error!(error.code = error.code(), error.cause = %error, "request failed");
    }
    let id = request_id.as_ref().map_or("", RequestId::as_str);
    let mut rendered = render(&error, surface, id);
    keep_headers(response.headers(), rendered.headers_mut());
    rendered
}

/// An error status whose body is not already JSON (a layer's plain-text 413, axum's 405, …).
fn needs_rendering(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// Headers set by the handler or inner layers that must survive re-rendering (`Allow`,
/// `WWW-Authenticate`, CORS) — not those describing the body it replaces: a compressed plain-text
/// rejection's `Content-Encoding: gzip` on the new, uncompressed JSON made clients fail to read it.
fn keep_headers(from: &HeaderMap, to: &mut HeaderMap) {
    const OF_THE_BODY: [header::HeaderName; 5] = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
        header::ETAG,
    ];
    for (name, value) in from {
        if !OF_THE_BODY.contains(name) && !to.contains_key(name) {
            to.insert(name.clone(), value.clone());
        }
    }
}
