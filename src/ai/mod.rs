//! Analytics computed in-process, without a provider: sentiment of customer messages.

pub mod http;
pub mod sentiment;
