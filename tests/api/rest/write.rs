//! Writes: insert (single, bulk with `columns`), representation and `Location`, upsert, update,
//! delete, `tx=rollback`, the unfiltered-write guard, and database errors in PostgREST's shape.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{Rest, column, send, strings};

async fn title_of(app: &Rest, id: i64) -> Option<String> {
    sqlx::query_scalar("select title from public.books where id = $1")
        .bind(i32::try_from(id).unwrap())
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn insert_one_row_answers_201_without_a_body(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/books", &[])
            .json(&json!({"title": "Zeta", "author_id": 3, "pages": 10})),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.text, "");
    assert!(r.header("location").is_none());
    assert_eq!(r.header("content-range"), Some("*/*"));
    let (author, status): (Option<i32>, String) =
        sqlx::query_as("select author_id, status from public.books where title = 'Zeta'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(author, Some(3));
    assert_eq!(
        status, "draft",
        "columns absent from the body take their default"
    );
}

#[sqlx::test]
async fn bulk_insert_with_columns(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::POST,
            "/books",
            &[
                ("columns", "\"title\",\"pages\""),
                ("select", "title,pages,status"),
            ],
        )
        .header("prefer", "return=representation")
        .json(&json!([
            {"title": "Eta", "pages": 7, "isbn": "ignored-not-in-columns"},
            {"title": "Theta"},
        ])),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"title": "Eta", "pages": 7, "status": "draft"},
            {"title": "Theta", "pages": null, "status": "draft"},
        ])
    );
    assert_eq!(
        app.scalar("select count(*) from public.books where isbn = 'ignored-not-in-columns'")
            .await,
        0
    );
}

#[sqlx::test]
async fn bulk_insert_without_columns_takes_the_union_of_keys(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/tags", &[])
            .header("prefer", "count=exact")
            .json(&json!([{"id": 10, "name": "ten"}, {"id": 11, "name": "eleven"}])),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("content-range"), Some("*/2"));
    assert_eq!(
        app.scalar("select count(*) from public.tags where id in (10, 11)")
            .await,
        2
    );
}

#[sqlx::test]
async fn missing_default_fills_absent_keys_with_defaults(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::POST,
            "/books",
            &[
                ("columns", "\"title\",\"status\""),
                ("select", "title,status"),
            ],
        )
        .header("prefer", "return=representation, missing=default")
        .json(&json!([{"title": "Iota"}, {"title": "Kappa", "status": "final"}])),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"title": "Iota", "status": "draft"}, {"title": "Kappa", "status": "final"}])
    );
}

#[sqlx::test]
async fn missing_default_numbers_rows_without_an_identity_value(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::POST,
            "/books",
            &[("columns", "\"id\",\"title\""), ("select", "id,title")],
        )
        .header("prefer", "return=representation, missing=default")
        .json(&json!([{"title": "Iota"}, {"id": 500, "title": "Kappa"}])),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"id": 100, "title": "Iota"}, {"id": 500, "title": "Kappa"}])
    );
}

#[sqlx::test]
async fn rows_without_keys_are_rows_of_defaults_and_an_empty_patch_changes_nothing(pool: PgPool) {
    sqlx::raw_sql(
        "create table public.pings (id int generated always as identity primary key, note text not null default 'ping'); \
         grant select, insert, update on public.pings to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start(pool).await;

    let one = send(
        app.anon(Method::POST, "/pings", &[])
            .header("prefer", "return=representation")
            .json(&json!({})),
    )
    .await;
    let two = send(
        app.anon(Method::POST, "/pings", &[("select", "id")])
            .header("prefer", "return=representation")
            .json(&json!([{}, {}])),
    )
    .await;
    let patched = send(
        app.anon(Method::PATCH, "/pings", &[("id", "eq.1")])
            .header("prefer", "return=representation")
            .json(&json!({})),
    )
    .await;
    let minimal = send(
        app.anon(Method::PATCH, "/pings", &[("id", "eq.1")])
            .json(&json!({})),
    )
    .await;

    assert_eq!(one.status, 201, "{}", one.text);
    assert_eq!(one.json(), json!([{"id": 1, "note": "ping"}]));
    assert_eq!(two.status, 201, "{}", two.text);
    assert_eq!(two.json(), json!([{"id": 2}, {"id": 3}]));
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json(), json!([]));
    assert_eq!(minimal.status, 204, "{}", minimal.text);
    assert_eq!(app.scalar("select count(*) from public.pings").await, 3);
}

#[sqlx::test]
async fn representation_with_select_and_an_embed(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(
            Method::POST,
            "/books",
            &[("select", "id,title,author:authors(name)")],
        )
        .header("prefer", "return=representation")
        .json(&json!({"title": "Lambda", "author_id": 2})),
    )
    .await;
    let single = send(
        app.anon(Method::POST, "/books", &[("select", "title")])
            .header("prefer", "return=representation")
            .header("accept", "application/vnd.pgrst.object+json")
            .json(&json!({"title": "Mu"})),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    assert_eq!(body[0]["title"], "Lambda");
    assert_eq!(body[0]["author"], json!({"name": "Brian"}));
    assert!(
        body[0]["id"].as_i64().unwrap() >= 100,
        "the identity default: {body}"
    );
    assert_eq!(single.status, 201, "{}", single.text);
    assert_eq!(single.json(), json!({"title": "Mu"}));
}

#[sqlx::test]
async fn headers_only_answers_a_location(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/tags", &[])
            .header("prefer", "return=headers-only")
            .json(&json!({"id": 42, "name": "answer"})),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some("/tags?id=eq.42"));
    assert_eq!(r.text, "");
}

#[sqlx::test]
async fn upsert_merges_or_ignores_duplicates(pool: PgPool) {
    let app = Rest::start(pool).await;

    let merged = send(
        app.anon(
            Method::POST,
            "/books",
            &[("on_conflict", "isbn"), ("columns", "\"isbn\",\"title\"")],
        )
        .header(
            "prefer",
            "resolution=merge-duplicates, return=representation",
        )
        .json(&json!([
            {"isbn": "isbn-1", "title": "Alpha 2nd ed."},
            {"isbn": "isbn-new", "title": "Nu"},
        ])),
    )
    .await;
    let by_pk = send(
        app.anon(Method::POST, "/tags", &[])
            .header("prefer", "resolution=merge-duplicates")
            .json(&json!({"id": 3, "name": "renamed"})),
    )
    .await;
    let ignored = send(
        app.anon(Method::POST, "/tags", &[("columns", "\"id\",\"name\"")])
            .header(
                "prefer",
                "resolution=ignore-duplicates, return=representation",
            )
            .json(&json!([{"id": 1, "name": "overwritten?"}, {"id": 20, "name": "twenty"}])),
    )
    .await;

    assert!(
        merged.status == 201 || merged.status == 200,
        "{}",
        merged.text
    );
    let mut titles = strings(&merged.json(), "title");
    titles.sort();
    assert_eq!(titles, ["Alpha 2nd ed.", "Nu"]);
    assert_eq!(title_of(&app, 1).await.as_deref(), Some("Alpha 2nd ed."));
    assert_eq!(
        app.scalar("select count(*) from public.books").await,
        6,
        "one row updated, one inserted"
    );
    assert!(by_pk.status < 300, "{}", by_pk.text);
    assert_eq!(
        app.scalar("select count(*) from public.tags where id = 3 and name = 'renamed'")
            .await,
        1
    );
    assert_eq!(ignored.status, 201, "{}", ignored.text);
    assert_eq!(ignored.json(), json!([{"id": 20, "name": "twenty"}]));
    assert_eq!(
        app.scalar("select count(*) from public.tags where id = 1 and name = 'fiction'")
            .await,
        1
    );
}

#[sqlx::test]
async fn update_with_filters(pool: PgPool) {
    let app = Rest::start(pool).await;

    let minimal = send(
        app.anon(Method::PATCH, "/books", &[("author_id", "eq.1")])
            .json(&json!({"status": "final"})),
    )
    .await;
    let represented = send(
        app.anon(
            Method::PATCH,
            "/books",
            &[("id", "eq.3"), ("select", "id,pages,authors(name)")],
        )
        .header("prefer", "return=representation")
        .json(&json!({"pages": 33, "data": {"new": true}})),
    )
    .await;
    let nothing = send(
        app.anon(Method::PATCH, "/books", &[("id", "eq.999")])
            .header("prefer", "return=representation")
            .json(&json!({"pages": 1})),
    )
    .await;

    assert_eq!(minimal.status, 204, "{}", minimal.text);
    assert_eq!(minimal.header("content-range"), Some("0-1/*"));
    assert_eq!(
        app.scalar("select count(*) from public.books where status = 'final'")
            .await,
        2
    );
    assert_eq!(represented.status, 200, "{}", represented.text);
    assert_eq!(
        represented.json(),
        json!([{"id": 3, "pages": 33, "authors": {"name": "Brian"}}])
    );
    assert_eq!(
        app.scalar("select count(*) from public.books where id = 3 and data = '{\"new\": true}'")
            .await,
        1
    );
    assert_eq!(nothing.status, 200, "{}", nothing.text);
    assert_eq!(nothing.json(), json!([]));
}

#[sqlx::test]
async fn delete_with_filters(pool: PgPool) {
    let app = Rest::start(pool).await;

    let minimal = send(app.anon(Method::DELETE, "/messages", &[("id", "eq.1")])).await;
    let represented = send(
        app.anon(
            Method::DELETE,
            "/book_tags",
            &[
                ("book_id", "eq.1"),
                ("select", "tag_id"),
                ("order", "tag_id"),
            ],
        )
        .header("prefer", "return=representation, count=exact"),
    )
    .await;

    assert_eq!(minimal.status, 204, "{}", minimal.text);
    assert_eq!(app.scalar("select count(*) from public.messages").await, 1);
    assert_eq!(represented.status, 200, "{}", represented.text);
    let mut tags: Vec<i64> = represented
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag_id"].as_i64().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, [1, 2]);
    assert_eq!(represented.header("content-range"), Some("*/2"));
    assert_eq!(app.scalar("select count(*) from public.book_tags").await, 2);
}

#[sqlx::test]
async fn limited_updates_and_deletes_touch_only_the_rows_of_their_page(pool: PgPool) {
    // A table without a primary key: its rows are picked by `ctid`.
    sqlx::raw_sql(
        "create table public.loose (n int); insert into public.loose values (1), (2), (3); \
         grant all on public.loose to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start(pool).await;

    // `.update(…).order('pages', { ascending: false }).limit(2)`: the two longest books only
    // (Delta 300, Beta 200), and the filter still applies (Gamma's pages are null).
    let updated = send(
        app.anon(
            Method::PATCH,
            "/books",
            &[
                ("pages", "not.is.null"),
                ("order", "pages.desc"),
                ("limit", "2"),
                ("select", "id"),
            ],
        )
        .header("prefer", "return=representation")
        .json(&json!({"status": "long"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let mut ids: Vec<i64> = column(&updated.json(), "id")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [2, 4]);
    assert_eq!(
        app.scalar("select count(*) from public.books where status = 'long'")
            .await,
        2
    );

    // `.delete().order('id').range(1, 2)`: the second and third books by id, nothing else.
    let deleted = send(app.anon(
        Method::DELETE,
        "/books",
        &[
            ("id", "gt.0"),
            ("order", "id"),
            ("offset", "1"),
            ("limit", "2"),
        ],
    ))
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(
        app.scalar("select count(*) from public.books where id in (2, 3)")
            .await,
        0,
        "the page is deleted"
    );
    assert_eq!(
        app.scalar("select count(*) from public.books where id in (1, 4, 5)")
            .await,
        3,
        "rows outside the page stay"
    );

    // A composite primary key, and no primary key at all.
    let last_tag = send(app.anon(
        Method::DELETE,
        "/book_tags",
        &[("order", "book_id.desc,tag_id.desc"), ("limit", "1")],
    ))
    .await;
    assert_eq!(last_tag.status, 204, "{}", last_tag.text);
    let smallest = send(
        app.anon(Method::PATCH, "/loose", &[("order", "n"), ("limit", "1")])
            .json(&json!({"n": 10})),
    )
    .await;
    assert_eq!(smallest.status, 204, "{}", smallest.text);
    assert_eq!(
        app.scalar("select count(*) from public.book_tags where book_id = 4")
            .await,
        0
    );
    assert_eq!(app.scalar("select count(*) from public.book_tags").await, 2);
    assert_eq!(app.scalar("select sum(n) from public.loose").await, 15);

    // Without an order the page would be any rows: refused, and nothing is deleted.
    let unordered =
        send(app.anon(Method::DELETE, "/books", &[("id", "gt.0"), ("limit", "1")])).await;
    unordered.error(400, "PGRST109");
    assert_eq!(app.scalar("select count(*) from public.books").await, 3);
}

#[sqlx::test]
async fn tx_rollback_leaves_nothing(pool: PgPool) {
    let app = Rest::start(pool).await;

    let insert = send(
        app.anon(Method::POST, "/tags", &[])
            .header("prefer", "tx=rollback, return=representation")
            .json(&json!({"id": 50, "name": "ghost"})),
    )
    .await;
    let update = send(
        app.anon(Method::PATCH, "/books", &[("id", "eq.1")])
            .header("prefer", "tx=rollback")
            .json(&json!({"title": "ghost"})),
    )
    .await;
    let delete = send(
        app.anon(Method::DELETE, "/messages", &[("id", "gt.0")])
            .header("prefer", "tx=rollback"),
    )
    .await;

    assert_eq!(insert.status, 201, "{}", insert.text);
    assert_eq!(insert.json(), json!([{"id": 50, "name": "ghost"}]));
    assert_eq!(update.status, 204, "{}", update.text);
    assert_eq!(delete.status, 204, "{}", delete.text);
    assert_eq!(
        app.scalar("select count(*) from public.tags where id = 50")
            .await,
        0
    );
    assert_eq!(title_of(&app, 1).await.as_deref(), Some("Alpha"));
    assert_eq!(app.scalar("select count(*) from public.messages").await, 2);
}

#[sqlx::test]
async fn unfiltered_writes_beyond_the_limit_are_refused(pool: PgPool) {
    let app = Rest::start_with(pool, &[("REST_MAX_UNFILTERED_AFFECTED", "2")]).await;

    let delete = send(app.anon(Method::DELETE, "/books", &[])).await;
    let update = send(
        app.anon(Method::PATCH, "/books", &[])
            .json(&json!({"status": "x"})),
    )
    .await;
    let small = send(app.anon(Method::DELETE, "/messages", &[])).await;
    let filtered = send(app.anon(Method::DELETE, "/book_tags", &[("tag_id", "gt.0")])).await;

    delete.error(400, "PGRST124");
    update.error(400, "PGRST124");
    assert_eq!(app.scalar("select count(*) from public.books").await, 5);
    assert_eq!(
        app.scalar("select count(*) from public.books where status = 'x'")
            .await,
        0
    );
    assert_eq!(
        small.status, 204,
        "two rows are within the limit: {}",
        small.text
    );
    assert_eq!(app.scalar("select count(*) from public.messages").await, 0);
    assert_eq!(filtered.status, 204, "{}", filtered.text);
    assert_eq!(app.scalar("select count(*) from public.book_tags").await, 0);
}

#[sqlx::test]
async fn max_affected_with_strict_handling(pool: PgPool) {
    let app = Rest::start(pool).await;

    let too_many = send(
        app.anon(Method::DELETE, "/book_tags", &[("tag_id", "gt.0")])
            .header("prefer", "handling=strict, max-affected=2"),
    )
    .await;
    let lenient = send(
        app.anon(Method::PATCH, "/books", &[("id", "gt.0")])
            .header("prefer", "max-affected=1")
            .json(&json!({"status": "lenient"})),
    )
    .await;
    let unknown = send(
        app.anon(Method::GET, "/books", &[])
            .header("prefer", "handling=strict, frobnicate=yes"),
    )
    .await;

    too_many.error(400, "PGRST124");
    assert_eq!(app.scalar("select count(*) from public.book_tags").await, 4);
    assert_eq!(lenient.status, 204, "{}", lenient.text);
    assert_eq!(
        app.scalar("select count(*) from public.books where status = 'lenient'")
            .await,
        5
    );
    unknown.error(400, "PGRST122");
}

#[sqlx::test]
async fn singular_writes_roll_back_when_not_exactly_one_row(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::PATCH, "/books", &[("author_id", "eq.1")])
            .header("accept", "application/vnd.pgrst.object+json")
            .header("prefer", "return=representation")
            .json(&json!({"status": "single?"})),
    )
    .await;

    let e = r.error(406, "PGRST116");
    assert_eq!(e["details"], "The result contains 2 rows");
    assert_eq!(
        app.scalar("select count(*) from public.books where status = 'single?'")
            .await,
        0
    );
}

#[sqlx::test]
async fn bad_bodies(pool: PgPool) {
    let app = Rest::start(pool).await;

    let unknown_key = send(
        app.anon(Method::POST, "/books", &[])
            .json(&json!({"title": "x", "nope": 1})),
    )
    .await;
    let unknown_in_columns = send(
        app.anon(Method::POST, "/books", &[("columns", "title,nope")])
            .json(&json!([{"title": "x"}])),
    )
    .await;
    let unknown_patch = send(
        app.anon(Method::PATCH, "/books", &[("id", "eq.1")])
            .json(&json!({"nope": 1})),
    )
    .await;
    let invalid = send(
        app.anon(Method::POST, "/books", &[])
            .header("content-type", "application/json")
            .body("{\"title\": "),
    )
    .await;
    let scalar = send(
        app.anon(Method::POST, "/books", &[])
            .header("content-type", "application/json")
            .body("42"),
    )
    .await;

    let e = unknown_key.error(400, "PGRST204");
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    unknown_in_columns.error(400, "PGRST204");
    unknown_patch.error(400, "PGRST204");
    invalid.error(400, "PGRST102");
    scalar.error(400, "PGRST102");
    assert_eq!(app.scalar("select count(*) from public.books").await, 5);
}

#[sqlx::test]
async fn constraint_violations(pool: PgPool) {
    let app = Rest::start(pool).await;
    let insert = |body: Value| send(app.anon(Method::POST, "/books", &[]).json(&body));

    let unique = insert(json!({"id": 1, "title": "dup"})).await;
    let unique_isbn = insert(json!({"title": "dup", "isbn": "isbn-2"})).await;
    let foreign = insert(json!({"title": "orphan", "author_id": 99})).await;
    let not_null = insert(json!({"title": null})).await;
    let check = insert(json!({"title": "neg", "pages": -1})).await;
    let bad_value = insert(json!({"title": "nan", "pages": "many"})).await;

    let e = unique.error(409, "23505");
    assert!(e["message"].as_str().unwrap().contains("books_pkey"), "{e}");
    assert_eq!(e["details"], "Key (id)=(1) already exists.");
    let e = unique_isbn.error(409, "23505");
    assert_eq!(e["details"], "Key (isbn)=(isbn-2) already exists.");
    let e = foreign.error(409, "23503");
    assert!(
        e["details"].as_str().unwrap().contains("(author_id)=(99)"),
        "{e}"
    );
    not_null.error(400, "23502");
    check.error(400, "23514");
    bad_value.error(400, "22P02");
    assert_eq!(app.scalar("select count(*) from public.books").await, 5);
}

#[sqlx::test]
async fn writes_to_unknown_tables_are_404(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(app.anon(Method::POST, "/nope", &[]).json(&json!({"a": 1}))).await;

    let e = r.error(404, "PGRST205");
    assert_eq!(
        e["message"],
        "Could not find the table 'public.nope' in the schema cache"
    );
}
