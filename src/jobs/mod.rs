//! Background work that runs inside `serve`.

pub mod outbox;
pub mod task;
