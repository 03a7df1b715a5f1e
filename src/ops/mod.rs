//! Operations: liveness, readiness and Prometheus metrics endpoints, and the audit log's
//! verification and retention, and data-subject export and erasure.

pub mod audit;
pub mod backup;
mod health;
pub mod subject;

use axum::{Router, routing::get};

use crate::app::AppState;

/// `/health`, `/ready`, `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::get_health))
        .route("/ready", get(health::get_ready))
        .route("/metrics", get(health::get_metrics))
}
