//! Ordering and paging: several order keys with nulls placed first or last, `limit` and `offset`,
//! the `Range` header, offsets at or past the end, and the server's maximum rows.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Rest, column, send};

#[sqlx::test]
async fn order_with_nulls_placement_and_several_keys(pool: PgPool) {
    let app = Rest::start(pool).await;

    let ids = |pairs: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move { app.book_ids_ordered(&pairs).await }
    };

    assert_eq!(
        ids(vec![("order", "pages.desc.nullslast")]).await,
        [4, 2, 1, 5, 3]
    );
    assert_eq!(ids(vec![("order", "pages.desc")]).await, [3, 4, 2, 1, 5]);
    assert_eq!(
        ids(vec![("order", "pages.asc.nullsfirst")]).await,
        [3, 5, 1, 2, 4]
    );
    assert_eq!(ids(vec![("order", "pages")]).await, [5, 1, 2, 4, 3]);
    assert_eq!(
        ids(vec![("order", "available.desc.nullslast,title.asc")]).await,
        [1, 4, 2, 5, 3]
    );
    assert_eq!(
        ids(vec![("order", "available.nullsfirst,id.desc")]).await,
        [3, 5, 2, 4, 1]
    );
    assert_eq!(
        ids(vec![("order", "data->>n.desc.nullslast,id")]).await,
        [5, 2, 1, 3, 4]
    );
}

impl Rest {
    /// The ids of `/books` in the order the server gives them.
    async fn book_ids_ordered(&self, pairs: &[(&str, &str)]) -> Vec<i64> {
        let mut all = vec![("select", "id")];
        all.extend_from_slice(pairs);
        let r = self.get("/books", &all).await;
        assert_eq!(r.status, 200, "{pairs:?}: {}", r.text);
        column(&r.json(), "id")
            .into_iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
    }
}

#[sqlx::test]
async fn limit_and_offset_page_through(pool: PgPool) {
    let app = Rest::start(pool).await;

    assert_eq!(
        app.book_ids_ordered(&[("order", "id"), ("limit", "2")])
            .await,
        [1, 2]
    );
    assert_eq!(
        app.book_ids_ordered(&[("order", "id"), ("limit", "2"), ("offset", "2")])
            .await,
        [3, 4]
    );
    assert_eq!(
        app.book_ids_ordered(&[("order", "id"), ("offset", "4")])
            .await,
        [5]
    );
    assert_eq!(
        app.book_ids_ordered(&[("order", "id"), ("limit", "0")])
            .await,
        Vec::<i64>::new()
    );
    let no_count = app
        .get(
            "/books",
            &[
                ("select", "id"),
                ("order", "id"),
                ("offset", "1"),
                ("limit", "2"),
            ],
        )
        .await;
    assert_eq!(no_count.status, 200);
    assert_eq!(no_count.header("content-range"), Some("1-2/*"));
}

#[sqlx::test]
async fn an_offset_beyond_the_total_is_416(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::GET, "/books", &[("offset", "20")])
            .header("prefer", "count=exact"),
    )
    .await;
    let negative = app.get("/books", &[("limit", "-1")]).await;

    let e = r.error(416, "PGRST103");
    assert!(
        e["details"].as_str().unwrap().contains("20"),
        "the details name the offset: {e}"
    );
    negative.error(416, "PGRST103");
}

#[sqlx::test]
async fn an_offset_equal_to_the_total_is_an_empty_page(pool: PgPool) {
    let app = Rest::start(pool).await;

    // PostgREST answers 416 only when the offset is *greater* than the total (§3.4).
    let r = send(
        app.anon(Method::GET, "/books", &[("offset", "5")])
            .header("prefer", "count=exact"),
    )
    .await;

    assert_eq!(r.status, 206, "{}", r.text);
    assert_eq!(r.header("content-range"), Some("*/5"));
    assert_eq!(r.json(), json!([]));
}

#[sqlx::test]
async fn max_rows_caps_every_read(pool: PgPool) {
    let app = Rest::start_with(pool, &[("REST_MAX_ROWS", "2")]).await;

    let r = send(
        app.anon(Method::GET, "/books", &[("select", "id"), ("order", "id")])
            .header("prefer", "count=exact"),
    )
    .await;
    let asked_more = app
        .get(
            "/books",
            &[("select", "id"), ("order", "id"), ("limit", "4")],
        )
        .await;
    let embedded_parents = app.get("/authors", &[("select", "id,books(id)")]).await;

    assert_eq!(r.status, 206, "{}", r.text);
    assert_eq!(r.json(), json!([{"id": 1}, {"id": 2}]));
    assert_eq!(r.header("content-range"), Some("0-1/5"));
    assert_eq!(asked_more.json().as_array().unwrap().len(), 2);
    assert_eq!(embedded_parents.json().as_array().unwrap().len(), 2);
}

#[sqlx::test]
async fn the_range_header_pages_reads(pool: PgPool) {
    let app = Rest::start(pool).await;
    let ranged = |range: &'static str, pairs: &'static [(&'static str, &'static str)]| {
        send(
            app.anon(Method::GET, "/books", pairs)
                .header("range-unit", "items")
                .header("range", range),
        )
    };
    let by_id: &[(&str, &str)] = &[("select", "id"), ("order", "id")];

    let middle = ranged("1-2", by_id).await;
    let open = ranged("3-", by_id).await;
    let overridden = ranged("0-0", &[("select", "id"), ("order", "id"), ("limit", "2")]).await;
    let inverted = ranged("3-1", by_id).await;
    // The widest range a header can name (its length overflowed: a 500 in debug builds).
    let widest = ranged("0-9223372036854775807", by_id).await;

    assert_eq!(middle.status, 200, "{}", middle.text);
    assert_eq!(middle.json(), json!([{"id": 2}, {"id": 3}]));
    assert_eq!(middle.header("content-range"), Some("1-2/*"));
    assert_eq!(open.json(), json!([{"id": 4}, {"id": 5}]));
    assert_eq!(open.header("content-range"), Some("3-4/*"));
    assert_eq!(
        overridden.json(),
        json!([{"id": 1}, {"id": 2}]),
        "limit in the query string wins"
    );
    inverted.error(416, "PGRST103");
    assert_eq!(widest.status, 200, "{}", widest.text);
    assert_eq!(widest.header("content-range"), Some("0-4/*"));
}
