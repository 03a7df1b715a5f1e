//! Schemas chosen by `Accept-Profile` and `Content-Profile`: only exposed ones, and a second
//! exposed schema reached by name.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Rest, send};

#[sqlx::test]
async fn schema_profiles(pool: PgPool) {
    let app = Rest::start(pool).await;

    let public = send(
        app.anon(Method::GET, "/authors", &[("select", "id"), ("id", "eq.1")])
            .header("accept-profile", "public"),
    )
    .await;
    let nope = send(
        app.anon(Method::GET, "/authors", &[])
            .header("accept-profile", "nope"),
    )
    .await;
    let nope_write = send(
        app.anon(Method::POST, "/authors", &[])
            .header("content-profile", "private")
            .json(&json!({"id": 9, "name": "X"})),
    )
    .await;

    assert_eq!(public.status, 200, "{}", public.text);
    assert_eq!(public.json(), json!([{"id": 1}]));
    let e = nope.error(406, "PGRST106");
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    assert!(e["hint"].as_str().unwrap().contains("public"), "{e}");
    nope_write.error(406, "PGRST106");
    assert_eq!(app.scalar("select count(*) from public.authors").await, 3);
}

#[sqlx::test]
async fn a_second_exposed_schema_is_chosen_by_profile(pool: PgPool) {
    sqlx::raw_sql(
        "create schema extra; grant usage on schema extra to anon, authenticated, service_role; \
         create table extra.things (id int primary key, name text); \
         insert into extra.things values (1, 'thing'); \
         grant select, insert on extra.things to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start_with(pool, &[("REST_SCHEMAS", "public,extra")]).await;

    let default = app.get("/things", &[]).await;
    let chosen = send(
        app.anon(Method::GET, "/things", &[("select", "name")])
            .header("accept-profile", "extra"),
    )
    .await;
    let written = send(
        app.anon(Method::POST, "/things", &[])
            .header("content-profile", "extra")
            .json(&json!({"id": 2, "name": "other"})),
    )
    .await;

    default.error(404, "PGRST205");
    assert_eq!(chosen.status, 200, "{}", chosen.text);
    assert_eq!(chosen.json(), json!([{"name": "thing"}]));
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(app.scalar("select count(*) from extra.things").await, 2);
}
