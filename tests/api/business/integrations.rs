//! Integration credentials: stored encrypted through `/functions/v1/integrations/{id}/credentials`
//! by whoever may manage integrations, never readable through the data API, bound to their row.

use bizbase::integrations::credentials;
use reqwest::Method;
use serde_json::{Value, json};

use super::{World, call};

const SECRET_KEY: &str = "mc-live-5f2b9c0e7d1a4b3c";

impl World {
    fn credentials(&self, method: Method, id: uuid::Uuid, token: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(
                method,
                self.app
                    .url(&format!("/functions/v1/integrations/{id}/credentials")),
            )
            .header("apikey", &self.app.anon_key)
            .bearer_auth(token)
    }
}

#[sqlx::test]
async fn credentials_are_stored_encrypted_and_only_by_managers(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let id = w.id("integration");
    let body = json!({"credentials": {"api_key": SECRET_KEY, "server": "us21"}});

    let rep = call(
        w.credentials(Method::PUT, id, w.token("sales_rep"))
            .json(&body),
    )
    .await;
    let other_org = call(w.credentials(Method::PUT, id, &w.admin_b.token).json(&body)).await;
    let anon = call(w.credentials(Method::PUT, id, &w.app.anon_key).json(&body)).await;
    let empty = call(
        w.credentials(Method::PUT, id, w.token("admin"))
            .json(&json!({"credentials": {}})),
    )
    .await;
    // The fixture's integration is connected; disconnect it first so storing is a change.
    let cleared = call(w.credentials(Method::DELETE, id, w.token("admin"))).await;
    let stored = call(w.credentials(Method::PUT, id, w.token("admin")).json(&body)).await;

    assert_eq!(rep.0, 404, "{}", rep.1);
    assert_eq!(rep.1["code"], "integration_not_found");
    assert_eq!(other_org.0, 404);
    assert_eq!(anon.0, 401, "{}", anon.1);
    assert_eq!(empty.0, 400, "{}", empty.1);
    assert_eq!(cleared.1["status"], "disconnected", "{}", cleared.1);
    assert_eq!(stored.0, 200, "{}", stored.1);
    assert_eq!(stored.1["status"], "connected");
    assert_eq!(stored.1["has_credentials"], true);
    assert!(!stored.1.to_string().contains(SECRET_KEY), "never returned");

    let raw: Vec<u8> = sqlx::query_scalar(
        "select ciphertext from private.integration_secrets where integration_id = $1",
    )
    .bind(id)
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains(SECRET_KEY),
        "stored encrypted"
    );
    let opened = credentials::load(&w.app.pool, &w.app.state.auth.cipher, id)
        .await
        .unwrap();
    assert_eq!(opened, Some(body["credentials"].clone()));

    let (_, via_api) = call(w.rest(
        Method::GET,
        &format!("/integrations?id=eq.{id}"),
        w.token("admin"),
    ))
    .await;
    assert!(!via_api.to_string().contains(SECRET_KEY));
    assert_eq!(via_api[0]["status"], "connected");
    let audited: Value = sqlx::query_scalar(
        "select coalesce(json_agg(changes order by id), '[]') from private.audit_log where table_name = 'integrations' and op = 'UPDATE'",
    )
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        json!([
            {"old": {"status": "connected"}, "new": {"status": "disconnected"}},
            {"old": {"status": "disconnected"}, "new": {"status": "connected"}}
        ])
    );
    assert!(
        !audited.to_string().contains(SECRET_KEY),
        "the audit log holds no secret"
    );
}

#[sqlx::test]
async fn a_ciphertext_moved_to_another_integration_does_not_open(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let id = w.id("integration");
    let body = json!({"credentials": {"api_key": SECRET_KEY}});
    let put = call(w.credentials(Method::PUT, id, w.token("admin")).json(&body)).await;
    assert_eq!(put.0, 200, "{}", put.1);
    let other: uuid::Uuid = sqlx::query_scalar(
        "insert into public.integrations (org_id, provider) values ($1, 'salesforce') returning id",
    )
    .bind(w.a)
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into private.integration_secrets (integration_id, ciphertext) \
         select $2, ciphertext from private.integration_secrets where integration_id = $1",
    )
    .bind(id)
    .bind(other)
    .execute(&w.app.pool)
    .await
    .unwrap();

    let moved = credentials::load(&w.app.pool, &w.app.state.auth.cipher, other).await;
    let removed = call(w.credentials(Method::DELETE, id, w.token("admin"))).await;
    let gone = credentials::load(&w.app.pool, &w.app.state.auth.cipher, id)
        .await
        .unwrap();

    assert!(
        moved
            .unwrap_err()
            .to_string()
            .contains("another integration")
    );
    assert_eq!(removed.0, 200, "{}", removed.1);
    assert_eq!(removed.1["status"], "disconnected");
    assert_eq!(gone, None);
}
