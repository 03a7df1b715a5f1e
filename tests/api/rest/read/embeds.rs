//! Embedding through foreign keys: to-one as an object or null, to-many as an array, through a
//! junction, nested, inner (dropping or filtering parents), with their own order, limit and
//! filters, and the hints an ambiguous or missing relationship asks for.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::super::{Rest, column, strings};

#[sqlx::test]
async fn many_to_one_embeds_an_object_or_null(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/books",
            &[
                ("select", "title,authors(name),writer:authors(id,country)"),
                ("id", "in.(1,5)"),
                ("order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"title": "Alpha", "authors": {"name": "Ada"}, "writer": {"id": 1, "country": "UK"}},
            {"title": "Epsilon", "authors": null, "writer": null},
        ])
    );
}

#[sqlx::test]
async fn one_to_many_embeds_an_array(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("order", "id"),
                ("books.order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"name": "Ada", "books": [{"title": "Alpha"}, {"title": "Beta"}]},
            {"name": "Brian", "books": [{"title": "Gamma"}, {"title": "Delta, with comma"}]},
            {"name": "Carol", "books": []},
        ])
    );
}

#[sqlx::test]
async fn many_to_many_through_a_junction(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/books",
            &[
                ("select", "id,tags(name)"),
                ("order", "id"),
                ("tags.order", "name.desc"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let tags: Vec<Value> = column(&r.json(), "tags");
    assert_eq!(
        tags,
        vec![
            json!([{"name": "science"}, {"name": "fiction"}]),
            json!([{"name": "fiction"}]),
            json!([]),
            json!([{"name": "science"}]),
            json!([]),
        ]
    );
    let back = app
        .get(
            "/tags",
            &[
                ("select", "name,books(id)"),
                ("id", "eq.1"),
                ("books.order", "id"),
            ],
        )
        .await;
    assert_eq!(
        back.json(),
        json!([{"name": "fiction", "books": [{"id": 1}, {"id": 2}]}])
    );
}

#[sqlx::test]
async fn inner_embeds_drop_parents_without_a_match(pool: PgPool) {
    let app = Rest::start(pool).await;

    let all = app
        .get(
            "/authors",
            &[("select", "name,books!inner(id)"), ("order", "id")],
        )
        .await;
    let filtered = app
        .get(
            "/authors",
            &[
                ("select", "name,books!inner(title)"),
                ("books.title", "eq.Gamma"),
            ],
        )
        .await;
    let left = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("books.title", "eq.Gamma"),
                ("order", "id"),
            ],
        )
        .await;
    let to_one = app
        .get(
            "/books",
            &[("select", "id,authors!inner(name)"), ("order", "id")],
        )
        .await;

    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(strings(&all.json(), "name"), ["Ada", "Brian"]);
    assert_eq!(
        filtered.json(),
        json!([{"name": "Brian", "books": [{"title": "Gamma"}]}])
    );
    // Without !inner the embedded filter only empties the arrays.
    assert_eq!(
        column(&left.json(), "books"),
        vec![json!([]), json!([{"title": "Gamma"}]), json!([])]
    );
    assert_eq!(
        column(&to_one.json(), "id"),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
}

#[sqlx::test]
async fn embedded_order_limit_offset_and_filters(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title,pages)"),
                ("id", "lte.2"),
                ("order", "id"),
                ("books.order", "title.desc"),
                ("books.limit", "1"),
            ],
        )
        .await;
    let offset = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("id", "eq.1"),
                ("books.order", "title"),
                ("books.offset", "1"),
            ],
        )
        .await;
    let filtered = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title)"),
                ("id", "eq.1"),
                ("books.pages", "gt.150"),
            ],
        )
        .await;
    let or = app
        .get(
            "/authors",
            &[
                ("select", "name,books(id)"),
                ("id", "eq.2"),
                ("books.or", "(pages.is.null,pages.gt.1000)"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"name": "Ada", "books": [{"title": "Beta", "pages": 200}]},
            {"name": "Brian", "books": [{"title": "Gamma", "pages": null}]},
        ])
    );
    assert_eq!(
        offset.json(),
        json!([{"name": "Ada", "books": [{"title": "Beta"}]}])
    );
    assert_eq!(
        filtered.json(),
        json!([{"name": "Ada", "books": [{"title": "Beta"}]}])
    );
    assert_eq!(or.status, 200, "{}", or.text);
    assert_eq!(or.json(), json!([{"name": "Brian", "books": [{"id": 3}]}]));
}

#[sqlx::test]
async fn nested_embeds(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/authors",
            &[
                ("select", "name,books(title,tags(name))"),
                ("id", "eq.1"),
                ("books.order", "id"),
                ("books.tags.order", "name"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"name": "Ada", "books": [
            {"title": "Alpha", "tags": [{"name": "fiction"}, {"name": "science"}]},
            {"title": "Beta", "tags": [{"name": "fiction"}]},
        ]}])
    );
}

#[sqlx::test]
async fn ambiguous_relationships_need_a_hint(pool: PgPool) {
    let app = Rest::start(pool).await;

    let ambiguous = app
        .get("/messages", &[("select", "body,authors(name)")])
        .await;
    let ambiguous_back = app
        .get("/authors", &[("select", "name,messages(body)")])
        .await;
    let hinted = app
        .get(
            "/messages",
            &[
                (
                    "select",
                    "body,sender:authors!messages_sender_fkey(name),recipient:authors!recipient_id(name)",
                ),
                ("order", "id"),
            ],
        )
        .await;
    let hinted_back = app
        .get(
            "/authors",
            &[
                ("select", "name,sent:messages!messages_sender_fkey(body)"),
                ("id", "eq.1"),
            ],
        )
        .await;

    let e = ambiguous.error(300, "PGRST201");
    let details = e["details"].to_string();
    assert!(
        details.contains("messages_sender_fkey") && details.contains("messages_recipient_fkey"),
        "the candidates are listed: {e}"
    );
    ambiguous_back.error(300, "PGRST201");
    assert_eq!(hinted.status, 200, "{}", hinted.text);
    assert_eq!(
        hinted.json(),
        json!([
            {"body": "hi", "sender": {"name": "Ada"}, "recipient": {"name": "Brian"}},
            {"body": "hello back", "sender": {"name": "Brian"}, "recipient": {"name": "Ada"}},
        ])
    );
    assert_eq!(
        hinted_back.json(),
        json!([{"name": "Ada", "sent": [{"body": "hi"}]}])
    );
}

#[sqlx::test]
async fn unrelated_embeds_are_pgrst200(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app.get("/authors", &[("select", "name,tags(name)")]).await;
    let unknown = app.get("/authors", &[("select", "name,nowhere(id)")]).await;

    let e = r.error(400, "PGRST200");
    assert!(e["message"].as_str().unwrap().contains("tags"), "{e}");
    unknown.error(400, "PGRST200");
}

#[sqlx::test]
async fn to_one_inner_embeds_filter_parents_by_the_related_row(pool: PgPool) {
    let app = Rest::start(pool).await;

    // supabase-js: .select('title, authors!inner(name)').eq('authors.name', 'Ada')
    let r = app
        .get(
            "/books",
            &[
                ("select", "title,authors!inner(name)"),
                ("authors.name", "eq.Ada"),
                ("order", "id"),
            ],
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            {"title": "Alpha", "authors": {"name": "Ada"}},
            {"title": "Beta", "authors": {"name": "Ada"}},
        ])
    );
}

#[sqlx::test]
async fn parents_filtered_by_the_presence_of_an_embed(pool: PgPool) {
    let app = Rest::start(pool).await;

    let with = app
        .get(
            "/books",
            &[
                ("select", "id,authors(name)"),
                ("authors", "not.is.null"),
                ("order", "id"),
            ],
        )
        .await;
    let without = app
        .get(
            "/books",
            &[("select", "id,authors(name)"), ("authors", "is.null")],
        )
        .await;

    assert_eq!(with.status, 200, "{}", with.text);
    assert_eq!(
        column(&with.json(), "id"),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
    assert_eq!(without.json(), json!([{"id": 5, "authors": null}]));
}
