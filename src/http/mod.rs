//! The request pipeline shared by every surface: request ids, error rendering, metrics,
//! timeouts, CORS and security headers.

pub mod errors;
pub mod json;
pub mod layers;
pub mod metrics;
pub mod request_id;

pub use request_id::RequestId;
