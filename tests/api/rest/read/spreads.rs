//! Spread embeds (`...relation(columns)`): a to-one relation's columns merged into the parent, a
//! to-many one's as an array per column, an unknown relation named, and spreads nested in an
//! embed, next to a count and in a write's answer.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Rest, send};

#[sqlx::test]
async fn a_spread_to_one_relation_merges_its_columns_into_the_parent(pool: PgPool) {
    let app = Rest::start(pool).await;

    let all = app
        .get(
            "/books",
            &[
                ("select", "title,...authors(writer:name,country)"),
                ("order", "id"),
            ],
        )
        .await;
    let inner = app
        .get(
            "/books",
            &[
                ("select", "id,...authors!inner(name)"),
                ("authors.country", "eq.US"),
                ("order", "id"),
            ],
        )
        .await;
    let star = app
        .get("/books", &[("select", "id,...authors(*)"), ("id", "eq.1")])
        .await;

    assert_eq!(all.status, 200, "{}", all.text);
    let rows = all.json();
    assert_eq!(
        rows[0],
        json!({"title": "Alpha", "writer": "Ada", "country": "UK"})
    );
    assert_eq!(
        rows[4],
        json!({"title": "Epsilon", "writer": null, "country": null}),
        "a parent without a related row keeps its place with nulls"
    );
    assert_eq!(inner.status, 200, "{}", inner.text);
    assert_eq!(
        inner.json(),
        json!([{"id": 3, "name": "Brian"}, {"id": 4, "name": "Brian"}])
    );
    assert_eq!(
        star.json(),
        json!([{"id": 1, "name": "Ada", "country": "UK"}]),
        "* spreads every column of the related table"
    );
}

#[sqlx::test]
async fn a_spread_to_many_relation_gives_an_array_per_column(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/authors",
            &[
                ("select", "name,...books(title,pages)"),
                ("books.order", "id.desc"),
                ("order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"name": "Ada", "title": ["Beta", "Alpha"], "pages": [200, 100]},
            {"name": "Brian", "title": ["Delta, with comma", "Gamma"], "pages": [300, null]},
            {"name": "Carol", "title": [], "pages": []}
        ])
    );
}

#[sqlx::test]
async fn a_spread_of_an_unknown_relation_names_it(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get("/books", &[("select", "id,...publishers(name)")])
        .await;

    r.error(400, "PGRST200");
}

#[sqlx::test]
async fn spreads_work_nested_in_an_embed_with_a_count_and_in_a_writes_answer(pool: PgPool) {
    let app = Rest::start(pool).await;

    let nested = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title,...authors(country))"),
                ("books.order", "id"),
                ("id", "eq.1"),
            ],
        )
        .await;
    let counted = send(
        app.anon(
            Method::GET,
            "/books",
            &[("select", "id,...authors(name)"), ("id", "lte.3")],
        )
        .header("prefer", "count=exact"),
    )
    .await;
    let written = send(
        app.anon(
            Method::POST,
            "/books",
            &[("select", "title,...authors(writer:name,country)")],
        )
        .header("prefer", "return=representation")
        .json(&json!({"title": "Lambda", "author_id": 2})),
    )
    .await;

    assert_eq!(nested.status, 200, "{}", nested.text);
    assert_eq!(
        nested.json(),
        json!([{"name": "Ada", "books": [
            {"title": "Alpha", "country": "UK"},
            {"title": "Beta", "country": "UK"}
        ]}])
    );
    assert_eq!(counted.status, 200, "{}", counted.text);
    assert_eq!(counted.header("content-range"), Some("0-2/3"));
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(
        written.json(),
        json!([{"title": "Lambda", "writer": "Brian", "country": "US"}])
    );
}
