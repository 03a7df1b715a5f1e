//! The request pipeline shared by every surface: request ids, error rendering, metrics,
//! timeouts, CORS, security headers, and the unread rest of refused bodies.

pub mod drain;
pub mod errors;
pub mod json;
pub mod layers;
pub mod metrics;
pub mod request_id;

pub use request_id::RequestId;
