//! The request pipeline shared by every surface: request ids, error rendering, metrics,
//! timeouts, CORS, security headers, the unread rest of refused bodies, and the server loop.

pub mod drain;
pub mod errors;
pub mod json;
pub mod layers;
pub mod metrics;
pub mod request_id;
pub mod server;

pub use request_id::RequestId;
