//! The answer's form: a single object (exactly one row or an error), CSV and its column order,
//! media types the server cannot give (406), `HEAD`, and the preferences it says it applied.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Rest, send};

#[sqlx::test]
async fn singular_object_requires_exactly_one_row(pool: PgPool) {
    let app = Rest::start(pool).await;
    let single = |pairs: &'static [(&'static str, &'static str)]| {
        send(
            app.anon(Method::GET, "/books", pairs)
                .header("accept", "application/vnd.pgrst.object+json"),
        )
    };

    let one = single(&[("select", "id,title,authors(name)"), ("id", "eq.1")]).await;
    let zero = single(&[("id", "eq.999")]).await;
    let two = single(&[("author_id", "eq.1")]).await;

    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.header("content-type")
            .unwrap()
            .starts_with("application/vnd.pgrst.object+json")
    );
    assert_eq!(
        one.json(),
        json!({"id": 1, "title": "Alpha", "authors": {"name": "Ada"}})
    );
    let e = zero.error(406, "PGRST116");
    assert_eq!(e["details"], "The result contains 0 rows");
    let e = two.error(406, "PGRST116");
    assert_eq!(e["details"], "The result contains 2 rows");
}

#[sqlx::test]
async fn csv_answers(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::GET,
            "/books",
            &[
                ("select", "id,pages,title"),
                ("id", "in.(3,4)"),
                ("order", "id"),
            ],
        )
        .header("accept", "text/csv"),
    )
    .await;
    let empty = send(
        app.anon(Method::GET, "/books", &[("id", "eq.999")])
            .header("accept", "text/csv"),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(
        r.text,
        "id,pages,title\n3,,Gamma\n4,300,\"Delta, with comma\"\n"
    );
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert!(
        empty
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
}

#[sqlx::test]
async fn csv_columns_follow_the_select_order(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::GET,
            "/books",
            &[("select", "title,id"), ("id", "eq.1")],
        )
        .header("accept", "text/csv"),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "title,id\nAlpha,1\n");
}

#[sqlx::test]
async fn unsupported_media_types_are_406(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::GET, "/books", &[])
            .header("accept", "application/xml"),
    )
    .await;
    let fallback = send(
        app.anon(Method::GET, "/books", &[("select", "id"), ("id", "eq.1")])
            .header("accept", "application/xml, application/json;q=0.5"),
    )
    .await;

    r.error(406, "PGRST107");
    assert_eq!(fallback.status, 200, "{}", fallback.text);
    assert_eq!(fallback.json(), json!([{"id": 1}]));
}

#[sqlx::test]
async fn head_answers_headers_without_a_body(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::HEAD, "/books", &[("limit", "2")])
            .header("prefer", "count=exact"),
    )
    .await;
    let missing = send(app.anon(Method::HEAD, "/nope", &[])).await;

    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("0-1/5"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.text, "");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text, "");
}

#[sqlx::test]
async fn applied_preferences_are_echoed(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/tags", &[])
            .header("prefer", "return=representation, tx=rollback")
            .json(&json!({"id": 77, "name": "x"})),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let applied = r.header("preference-applied").unwrap_or_default();
    assert!(
        applied.contains("return=representation") && applied.contains("tx=rollback"),
        "{applied:?}"
    );
}
