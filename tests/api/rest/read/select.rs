//! Vertical selection: columns, aliases, casts, JSON paths and the key each one gets, and `*`.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Rest, send};

#[sqlx::test]
async fn select_columns_aliases_casts_and_json_paths(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/books",
            &[
                (
                    "select",
                    "id,name:title,id_text:id::text,price::text,b:data->a->>b,data->a,n:data->n",
                ),
                ("id", "in.(1,3)"),
                ("order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.json(),
        json!([
            {"id": 1, "name": "Alpha", "id_text": "1", "price": "9.99", "b": "x", "a": {"b": "x"}, "n": 1},
            {"id": 3, "name": "Gamma", "id_text": "3", "price": null, "b": null, "a": null, "n": null},
        ])
    );
}

#[sqlx::test]
async fn json_path_output_key_is_the_last_segment(pool: PgPool) {
    let app = Rest::start(pool).await;

    // `>` travels percent-encoded, as URLSearchParams sends it.
    let r = send(app.raw(Method::GET, "/books?select=data-%3Ea-%3E%3Eb&id=eq.2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!([{"b": "y"}]));
}

#[sqlx::test]
async fn star_selects_every_column(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app.get("/books", &[("id", "eq.1")]).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let row = &r.json()[0];
    assert_eq!(row["title"], "Alpha");
    assert_eq!(row["tags"], json!(["rust", "db"]));
    assert_eq!(row["pub_range"], "[1,10)");
    assert_eq!(row["available"], true);
    assert_eq!(row["price"], json!(9.99));
    assert_eq!(row["status"], "draft");
    assert!(row.get("published_at").is_some() && row.get("search").is_some());
    let star_and_more = app
        .get("/books", &[("select", "*,extra:title"), ("id", "eq.1")])
        .await;
    assert_eq!(star_and_more.json()[0]["extra"], "Alpha");
    assert_eq!(star_and_more.json()[0]["isbn"], "isbn-1");
}
