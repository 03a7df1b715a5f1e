//! Background work that runs inside `serve`.

pub mod auth_cleanup;
pub mod outbox;
pub mod sentiment;
pub mod task;
