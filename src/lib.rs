//! bizbase: the backend of a digital business platform in one binary over PostgreSQL.
//!
//! The HTTP surface is wire-compatible with Supabase (`/auth/v1`, `/rest/v1`, `/storage/v1`,
//! `/functions/v1`); data and its rules live in PostgreSQL, guarded by row-level security.

pub mod ai;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod integrations;
pub mod jobs;
pub mod ops;
pub mod rest;
pub mod seed;
pub mod storage;
pub mod telemetry;

pub use app::{AppState, build_admin_app, build_app, serve};
pub use config::Config;
pub use error::{AppError, AppResult};
