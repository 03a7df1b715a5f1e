//! Operations: liveness, readiness and Prometheus metrics endpoints, and the audit log's
//! verification and retention, and data-subject export and erasure.

pub mod audit;
pub mod backup;
mod health;
pub mod subject;

use axum::{Router, routing::get};

use crate::app::AppState;

/// `/health` and `/ready`, served on every listener (load balancers probe the API's address).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::get_health))
        .route("/ready", get(health::get_ready))
}

/// `/metrics`: on the API's address, or only on the operations listener when one is configured.
pub fn metrics() -> Router<AppState> {
    Router::new().route("/metrics", get(health::get_metrics))
}
