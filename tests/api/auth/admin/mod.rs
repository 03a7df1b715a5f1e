//! The admin endpoints (service role): users, generated links, invitations, factors (§2.8).

mod create;
mod factors;
mod links;
mod listing;
mod users;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::harness::{TestApp, json};

pub(super) async fn create(app: &TestApp, body: Value) -> Response {
    app.admin(Method::POST, "/admin/users")
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(super) async fn invite(app: &TestApp, email: &str) -> Response {
    app.admin(Method::POST, "/invite")
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

pub(super) async fn generate_link(app: &TestApp, body: Value) -> Value {
    let r = app
        .admin(Method::POST, "/admin/generate_link")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "generate_link {body}");
    json(r).await
}

pub(super) async fn verify(app: &TestApp, body: Value) -> Response {
    app.auth(Method::POST, "/verify")
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(super) async fn queued_mails(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from private.outbox")
        .fetch_one(pool)
        .await
        .unwrap()
}
