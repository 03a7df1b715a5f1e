//! Prometheus metrics: request counts and latency by route and status, and database pool gauges.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use. `None` when another recorder was
/// installed first (then `/metrics` says so instead of serving stale numbers).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// A request being measured: started before the handler runs, finished with its response.
pub struct Measure {
    start: Instant,
    method: &'static str,
    route: String,
}

/// The label of `method`: one of HTTP's own, or `other`. A label taken from the request as sent
/// would make a series (and memory, and /metrics text) for every made-up method anyone sends.
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

impl Measure {
    /// Starts measuring `req`, labelled by its method and route template.
    pub fn start(req: &Request) -> Self {
        Self {
            start: Instant::now(),
            method: method_label(req.method()),
            route: req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned()),
        }
    }

    /// Counts the request and records its latency under its route template and status.
    pub fn finish(self, response: &Response) {
        let labels = [
            ("method", self.method.to_owned()),
            ("route", self.route),
            ("status", response.status().as_u16().to_string()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels)
            .record(self.start.elapsed().as_secs_f64());
    }
}
