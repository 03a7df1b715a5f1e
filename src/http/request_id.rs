//! Request ids: taken from `x-request-id` when the caller sent a sane one, generated otherwise,
//! echoed on the response and recorded on every log line of the request.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

/// The header that carries the request id both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, available as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Accepts a caller's id only if it cannot corrupt a log line or a header: 1–128 characters of
/// `[A-Za-z0-9._:-]`.
fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Middleware: assigns the request id and echoes it on the response.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id: Arc<str> = match req.headers().get(&HEADER).and_then(|v| v.to_str().ok()) {
        Some(given) if is_acceptable(given) => given.into(),
        _ => uuid::Uuid::now_v7().to_string().into(),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn accepts_uuids_and_trace_ids_but_not_log_injection() {
        assert!(is_acceptable("0190c3b4-7a1e-7c3d-9b1a-2f4e5d6c7b8a"));
        assert!(is_acceptable("req_42:abc.def"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("a\nlevel=error msg=forged"));
        assert!(!is_acceptable("with space"));
        assert!(!is_acceptable(&"x".repeat(129)));
    }
}
