//! Reads: vertical selection (columns, aliases, casts, JSON paths), embedding through foreign
//! keys, ordering, paging, counting, and the media types of the answer.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{Reply, Rest, column, send, strings};

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
async fn exact_count_goes_into_content_range(pool: PgPool) {
    let app = Rest::start(pool).await;
    let counted = |pairs: &'static [(&'static str, &'static str)]| {
        send(
            app.anon(Method::GET, "/books", pairs)
                .header("prefer", "count=exact"),
        )
    };

    let partial = counted(&[("select", "id"), ("order", "id"), ("limit", "2")]).await;
    let second_page = counted(&[
        ("select", "id"),
        ("order", "id"),
        ("limit", "2"),
        ("offset", "2"),
    ])
    .await;
    let complete = counted(&[("select", "id")]).await;
    let filtered = counted(&[("select", "id"), ("pages", "gte.200")]).await;
    let none = counted(&[("select", "id"), ("id", "eq.999")]).await;

    assert_eq!(partial.status, 206, "{}", partial.text);
    assert_eq!(partial.header("content-range"), Some("0-1/5"));
    assert_eq!(partial.json().as_array().unwrap().len(), 2);
    assert_eq!(second_page.status, 206);
    assert_eq!(second_page.header("content-range"), Some("2-3/5"));
    assert_eq!(complete.status, 200);
    assert_eq!(complete.header("content-range"), Some("0-4/5"));
    assert_eq!(filtered.status, 200);
    assert_eq!(filtered.header("content-range"), Some("0-1/2"));
    assert_eq!(none.status, 200);
    assert_eq!(none.header("content-range"), Some("*/0"));
    assert_eq!(none.json(), json!([]));
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

/// 4,000 analysed rows of which 2,000 were deleted afterwards: the planner still believes in
/// 4,000 (autovacuum is off for the table), so planned and exact totals differ.
async fn stale_statistics(pool: &PgPool) {
    sqlx::raw_sql(
        "create table public.readings (id int primary key, kind text not null) \
           with (autovacuum_enabled = false); \
         insert into public.readings select g, case when g % 2 = 0 then 'even' else 'odd' end \
           from generate_series(1, 4000) g; \
         analyze public.readings; \
         delete from public.readings where id > 2000; \
         grant select on public.readings to anon;",
    )
    .execute(pool)
    .await
    .unwrap();
}

fn total(r: &Reply) -> i64 {
    let range = r.header("content-range").unwrap();
    range.rsplit('/').next().unwrap().parse().unwrap()
}

#[sqlx::test]
async fn planned_count_reports_the_planner_estimate(pool: PgPool) {
    stale_statistics(&pool).await;
    let app = Rest::start(pool).await;
    let counted = |how: &'static str, pairs: &'static [(&'static str, &'static str)]| {
        send(
            app.anon(Method::GET, "/readings", pairs)
                .header("prefer", format!("count={how}")),
        )
    };

    let exact = counted("exact", &[("select", "id"), ("limit", "10")]).await;
    let planned = counted("planned", &[("select", "id"), ("limit", "10")]).await;
    let planned_filtered = counted(
        "planned",
        &[("select", "id"), ("kind", "eq.even"), ("limit", "10")],
    )
    .await;

    assert_eq!(exact.status, 206, "{}", exact.text);
    assert_eq!(total(&exact), 2000);
    assert_eq!(planned.status, 206, "{}", planned.text);
    assert_eq!(planned.json().as_array().unwrap().len(), 10);
    assert_eq!(planned.header("preference-applied"), Some("count=planned"));
    let p = total(&planned);
    assert!(
        (3600..=4400).contains(&p),
        "the estimate comes from the stale statistics, not a count: {p}"
    );
    let f = total(&planned_filtered);
    assert!(
        (1500..=2500).contains(&f),
        "filters are part of the estimated statement: {f}"
    );
}

#[sqlx::test]
async fn estimated_count_is_exact_up_to_max_rows(pool: PgPool) {
    stale_statistics(&pool).await;
    let app = Rest::start_with(pool, &[("REST_MAX_ROWS", "100")]).await;
    let estimated = |pairs: &'static [(&'static str, &'static str)]| {
        send(
            app.anon(Method::GET, "/readings", pairs)
                .header("prefer", "count=estimated"),
        )
    };

    let few = estimated(&[("select", "id"), ("id", "lte.50"), ("limit", "5")]).await;
    let many = estimated(&[("select", "id"), ("limit", "5")]).await;

    assert_eq!(few.header("content-range"), Some("0-4/50"), "{}", few.text);
    let m = total(&many);
    assert!(
        (3600..=4400).contains(&m),
        "beyond max_rows the planner's estimate is reported: {m}"
    );
}

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
