//! Sample data for a fresh database (`bizbase seed …`).

pub mod demo;
