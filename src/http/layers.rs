//! The layers every request passes through, in order from the outside in.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use super::{
    RequestId,
    drain::{self, DrainLimits},
    errors, metrics, request_id,
};
use crate::{config::CorsOrigins, error::AppError};

/// Request headers a browser client of Supabase sends (`reference/supabase-api.md` §1.2).
const ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "apikey",
    "content-type",
    "accept",
    "accept-profile",
    "content-profile",
    "prefer",
    "range",
    "range-unit",
    "x-client-info",
    "x-supabase-api-version",
    "x-upsert",
    "cache-control",
    "x-metadata",
    "x-region",
    "x-retry-count",
    "x-request-id",
    "if-none-match",
    "if-match",
    "traceparent",
    "tracestate",
    "baggage",
];

/// Response headers a browser client must be able to read.
const EXPOSE_HEADERS: &[&str] = &[
    "content-range",
    "content-location",
    "content-profile",
    "location",
    "range-unit",
    "x-total-count",
    "link",
    "x-supabase-api-version",
    "x-request-id",
    "etag",
    "retry-after",
];

/// Settings of the pipeline, taken from the configuration.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Allowed browser origins.
    pub cors_origins: CorsOrigins,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// How much of a body a handler left unread is read after it, to keep the connection.
    pub drain: DrainLimits,
}

/// Refuses request bodies larger than `max` bytes (413): a declared length at once, a streamed
/// body when it crosses the limit. Applied per surface, since file uploads have their own limit.
pub fn limit_body<S: Clone + Send + Sync + 'static>(router: Router<S>, max: usize) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(max))
        .layer(RequestBodyLimitLayer::new(max))
}

/// Wraps `router` in the full pipeline.
pub fn apply(router: Router, settings: &PipelineSettings) -> Router {
    let (timeout, limits) = (settings.request_timeout, settings.drain);
    router
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            run(timeout, drain::guard(req, limits), next)
        }))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(errors::render_errors))
        .layer(cors(&settings.cors_origins))
        .layer(middleware::from_fn(security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.extensions().get::<RequestId>().map_or("", RequestId::as_str);
                    tracing::info_span!("request", method = %req.method(), path = req.uri().path(), request_id = id)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(request_id::assign))
}

/// Middleware, innermost: runs the handler in its own task, answers 504 `request_timeout` when it
/// takes longer than `limit`, and records the request in the metrics (timeouts included). The
/// request's body comes wrapped by [`drain::guard`], so a handler answering before reading it
/// does not cost the client its connection (nor the answer).
///
/// The task is detached so that a client hanging up (or the timeout) never cancels the handler
/// half-way. A cancelled future could leave a pooled connection inside a transaction that was begun
/// but not yet acknowledged; finishing the work (bounded by the statement timeout) keeps every
/// connection returned to the pool clean. The three jobs share one middleware because each layer
/// made with `from_fn` clones the service inside it (a boxed route) on every request.
async fn run(limit: Duration, req: Request, next: Next) -> Response {
    let measure = metrics::Measure::start(&req);
    let task = tokio::spawn(next.run(req));
    let response = match tokio::time::timeout(limit, task).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            AppError::Internal(anyhow::anyhow!("request task failed: {e}")).into_response()
        }
        Err(_) => AppError::Timeout.into_response(),
    };
    measure.finish(&response);
    response
}

/// Middleware: the fixed security headers of every response (set only if the handler did not).
async fn security_headers(req: Request, next: Next) -> Response {
    const HEADERS: [(&str, &str); 3] = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ];
    let mut response = next.run(req).await;
    for (name, value) in HEADERS {
        let name = HeaderName::from_static(name);
        if !response.headers().contains_key(&name) {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

fn cors(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(
            ALLOW_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .expose_headers(
            EXPOSE_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(24 * 3600))
        .vary([header::ORIGIN])
}
