//! Relationships PostgREST reads from more than a plain foreign key: a table referencing itself
//! (children by the table's name, the parent by the column) and a unique foreign key, which makes
//! the referencing side one-to-one; and the row count `count` PostgREST keeps from before aggregates.

use serde_json::json;
use sqlx::PgPool;

use super::{Rest, fixture, strings};

#[sqlx::test]
async fn a_tree_embeds_its_children_by_the_table_name_and_its_parent_by_the_column(pool: PgPool) {
    let app = Rest::start(pool).await;

    let children = app
        .get(
            "/categories",
            &[
                ("select", "name,categories(name)"),
                ("id", "eq.1"),
                ("categories.order", "name.desc"),
            ],
        )
        .await;
    let parent = app
        .get(
            "/categories",
            &[("select", "name,parent:parent_id(name)"), ("id", "eq.4")],
        )
        .await;
    let hinted = app
        .get(
            "/categories",
            &[
                ("select", "name,kids:categories!parent_id(name)"),
                ("id", "eq.2"),
            ],
        )
        .await;
    let root_has_no_parent = app
        .get(
            "/categories",
            &[("select", "name,parent_id(name)"), ("id", "eq.1")],
        )
        .await;

    assert_eq!(children.status, 200, "{}", children.text);
    assert_eq!(
        children.json(),
        json!([{"name": "root", "categories": [{"name": "child b"}, {"name": "child a"}]}])
    );
    assert_eq!(parent.status, 200, "{}", parent.text);
    assert_eq!(
        parent.json(),
        json!([{"name": "leaf", "parent": {"name": "child a"}}])
    );
    assert_eq!(hinted.status, 200, "{}", hinted.text);
    assert_eq!(
        hinted.json(),
        json!([{"name": "child a", "kids": [{"name": "leaf"}]}])
    );
    assert_eq!(
        root_has_no_parent.json(),
        json!([{"name": "root", "parent_id": null}])
    );
}

#[sqlx::test]
async fn a_unique_foreign_key_embeds_one_object_or_null(pool: PgPool) {
    // A unique index that is no constraint does not make a relationship one-to-one (PostgREST
    // reads constraints only).
    fixture(&pool).await;
    sqlx::raw_sql(
        "create table public.author_notes (id int primary key, author_id int references public.authors (id)); \
         create unique index on public.author_notes (author_id); \
         grant select on public.author_notes to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::serve(pool, &[]).await;
    let indexed = app
        .get(
            "/authors",
            &[("select", "name,author_notes(id)"), ("id", "eq.1")],
        )
        .await;
    assert_eq!(indexed.json(), json!([{"name": "Ada", "author_notes": []}]));

    let r = app
        .get(
            "/authors",
            &[
                ("select", "name,author_bios(bio)"),
                ("id", "lte.2"),
                ("order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"name": "Ada", "author_bios": {"bio": "Ada wrote first"}},
            {"name": "Brian", "author_bios": null}
        ])
    );
}

#[sqlx::test]
async fn count_without_parentheses_counts_rows_of_the_table_or_of_an_embed(pool: PgPool) {
    let app = Rest::start(pool).await;

    let embedded = app
        .get(
            "/authors",
            &[("select", "name,books(count)"), ("order", "id")],
        )
        .await;
    let whole = app
        .get("/books", &[("select", "count"), ("author_id", "eq.2")])
        .await;
    let aliased = app.get("/books", &[("select", "n:count")]).await;
    let with_parentheses = app.get("/books", &[("select", "count()")]).await;

    assert_eq!(embedded.status, 200, "{}", embedded.text);
    assert_eq!(
        embedded.json(),
        json!([
            {"name": "Ada", "books": [{"count": 2}]},
            {"name": "Brian", "books": [{"count": 2}]},
            {"name": "Carol", "books": [{"count": 0}]}
        ])
    );
    assert_eq!(whole.json(), json!([{"count": 2}]));
    assert_eq!(aliased.json(), json!([{"n": 5}]));
    // The aggregate itself stays disabled, as PostgREST's default.
    with_parentheses.error(400, "PGRST123");
}

#[sqlx::test]
async fn rows_are_ordered_by_a_column_of_a_to_one_relation(pool: PgPool) {
    let app = Rest::start(pool).await;

    let by_alias = app
        .get(
            "/books",
            &[
                ("select", "title,author:authors(name)"),
                ("author_id", "not.is.null"),
                ("order", "author(name).desc,id"),
            ],
        )
        .await;
    let not_embedded = app
        .get(
            "/books",
            &[
                ("select", "title"),
                ("order", "authors(name).asc.nullsfirst,id"),
                ("limit", "2"),
            ],
        )
        .await;
    let to_many = app.get("/authors", &[("order", "books(title)")]).await;

    assert_eq!(by_alias.status, 200, "{}", by_alias.text);
    assert_eq!(
        strings(&by_alias.json(), "title"),
        ["Gamma", "Delta, with comma", "Alpha", "Beta"]
    );
    assert_eq!(not_embedded.status, 200, "{}", not_embedded.text);
    assert_eq!(
        not_embedded.json(),
        json!([{"title": "Epsilon"}, {"title": "Alpha"}])
    );
    to_many.error(400, "PGRST118");
}

#[sqlx::test]
async fn an_empty_embed_filters_without_showing_and_embed_presence_joins_or_trees(pool: PgPool) {
    let app = Rest::start(pool).await;

    let hidden = app
        .get(
            "/authors",
            &[("select", "name,books!inner()"), ("books.pages", "gt.250")],
        )
        .await;
    let either = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("books.pages", "gt.250"),
                ("or", "(books.not.is.null,id.eq.1)"),
                ("order", "id"),
            ],
        )
        .await;
    let bad_operator = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("or", "(books.eq.1,id.eq.1)"),
            ],
        )
        .await;

    assert_eq!(hidden.status, 200, "{}", hidden.text);
    assert_eq!(hidden.json(), json!([{"name": "Brian"}]));
    assert_eq!(either.status, 200, "{}", either.text);
    assert_eq!(
        either.json(),
        json!([
            {"name": "Ada", "books": []},
            {"name": "Brian", "books": [{"title": "Delta, with comma"}]}
        ])
    );
    bad_operator.error(400, "PGRST120");
}

#[sqlx::test]
async fn a_related_order_follows_the_hint_of_its_embed_and_spreads_take_empty_embeds(pool: PgPool) {
    let app = Rest::start(pool).await;

    // Message 1 is from Ada to Brian, message 2 from Brian to Ada.
    let by_sender = app
        .get(
            "/messages",
            &[
                ("select", "id,from:authors!sender_id(name)"),
                ("order", "authors(name).desc"),
            ],
        )
        .await;
    let spread = app
        .get(
            "/books",
            &[
                ("select", "id,...authors(name,books!inner())"),
                ("id", "eq.1"),
            ],
        )
        .await;

    assert_eq!(by_sender.status, 200, "{}", by_sender.text);
    assert_eq!(
        by_sender.json(),
        json!([{"id": 2, "from": {"name": "Brian"}}, {"id": 1, "from": {"name": "Ada"}}])
    );
    assert_eq!(spread.status, 200, "{}", spread.text);
    assert_eq!(spread.json(), json!([{"id": 1, "name": "Ada"}]));
}
