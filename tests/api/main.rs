//! Integration tests: the real application on a random loopback port against a real PostgreSQL,
//! a fresh database per test (`#[sqlx::test]`, which needs `DATABASE_URL`; `scripts/test` sets it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod backup;
mod business;
mod cli;
mod embedded;
mod harness;
mod identity;
mod migrations;
mod moto;
mod ops;
mod owner;
mod pipeline;
mod pool;
mod reads;
mod rest;
mod seed;
mod server;
mod storage;
