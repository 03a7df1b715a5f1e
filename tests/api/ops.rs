//! `/health`, `/ready` and `/metrics`.

use sqlx::PgPool;

use crate::harness::{TestApp, json};

#[sqlx::test]
async fn health_answers_200(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/health").await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ok");
}

#[sqlx::test]
async fn ready_answers_200_when_the_database_answers_and_migrations_are_current(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/ready").await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ready");
}

#[sqlx::test(migrations = false)]
async fn ready_answers_503_with_a_reason_before_migrations(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let before = app.get("/ready").await;
    assert_eq!(before.status(), 503);
    let body = json(before).await;
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["message"], "migrations have not been run");

    bizbase::db::migrate(&pool).await.unwrap();
    assert_eq!(app.get("/ready").await.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn ready_names_pending_migrations(pool: PgPool) {
    bizbase::db::migrate(&pool).await.unwrap();
    let last = bizbase::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap();
    sqlx::query("delete from _sqlx_migrations where version = $1")
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn(pool).await;

    let body = json(app.get("/ready").await).await;

    assert_eq!(
        body["message"],
        format!("1 migration(s) pending, first {last}")
    );
}

#[sqlx::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.get("/health").await;
    app.get("/definitely-unknown").await;
    // A made-up method is counted, under `other`: labels from the request as sent would grow the
    // series (and the server's memory) with every new word.
    let brew = reqwest::Method::from_bytes(b"BREWCOFFEE").unwrap();
    let made_up = app
        .client
        .request(brew, app.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 405);

    let r = app.get("/metrics").await;

    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains(r#"http_requests_total{method="other",route="/health",status="405"}"#),
        "{text}"
    );
    assert!(!text.contains("BREWCOFFEE"), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    for gauge in [
        "db_pool_connections",
        "db_pool_idle_connections",
        "db_pool_max_connections ",
        "db_api_pool_connections ",
        "db_api_pool_idle_connections ",
    ] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
}
