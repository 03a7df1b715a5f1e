//! Background work that runs inside `serve`.

pub mod outbox;
