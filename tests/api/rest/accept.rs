//! `Accept: application/vnd.pgrst.{array,object}+json;nulls=stripped` (`stripNulls()`): null
//! fields left out at any depth, numbers exactly as PostgreSQL writes them.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{Rest, send};

const ARRAY: &str = "application/vnd.pgrst.array+json;nulls=stripped";
const OBJECT: &str = "application/vnd.pgrst.object+json;nulls=stripped";

#[sqlx::test]
async fn stripped_nulls_leave_numbers_and_array_elements_as_they_are(pool: PgPool) {
    let app = Rest::start(pool).await;

    let read = send(
        app.anon(
            Method::GET,
            "/books",
            &[
                ("select", "id,price,pages,author:authors(name,country)"),
                ("id", "in.(3,5)"),
                ("order", "id"),
            ],
        )
        .header("accept", ARRAY),
    )
    .await;
    let one = send(
        app.anon(
            Method::GET,
            "/books",
            &[("select", "id,pages"), ("id", "eq.3")],
        )
        .header("accept", OBJECT),
    )
    .await;
    let written = send(
        app.anon(Method::POST, "/books", &[("select", "title,pages,tags")])
            .header("accept", ARRAY)
            .header("prefer", "return=representation")
            .json(&json!({"title": "Zeta", "price": 12.50})),
    )
    .await;

    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.header("content-type").unwrap().starts_with(ARRAY));
    // Book 5 costs 0.50: PostgreSQL's numeric text, not a float's shortest form.
    assert!(read.text.contains("\"price\":0.50"), "{}", read.text);
    assert_eq!(
        read.json(),
        json!([
            {"id": 3, "author": {"name": "Brian", "country": "US"}},
            {"id": 5, "price": 0.5, "pages": 50}
        ])
    );
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(one.header("content-type").unwrap().starts_with(OBJECT));
    assert_eq!(one.json(), json!({"id": 3}));
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(written.json(), json!([{"title": "Zeta", "tags": []}]));
}
