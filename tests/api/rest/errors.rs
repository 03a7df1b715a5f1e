//! Client errors are 4xx in PostgREST's shape, never 500s; hostile input through any part of the
//! query or body is refused without touching the database.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{Rest, send, table_exists};

#[sqlx::test]
async fn malformed_query_strings_are_pgrst100_with_the_position(pool: PgPool) {
    let app = Rest::start(pool).await;

    let cases: &[(&str, &str, &str)] = &[
        ("select", "id,(x", "position 3"),
        ("select", "id,authors(name", "end of input"),
        ("select", "id::", "position 4"),
        ("select", "authors!(name)", "position 8"),
        ("id", "foo.1", "operator"),
        ("id", "eq", "end of input"),
        ("id", "in.(1,2", "end of input"),
        ("available", "is.maybe", "null, not_null"),
        ("id", "like(some).{a}", "(any), (all)"),
        ("order", "id.sideways", "asc, desc"),
        ("order", "id,", "end of input"),
        ("or", "(a.eq.1", "end of input"),
        ("or", "a.eq.1", "position 0"),
        ("and", "(id.eq.1,)", "position 9"),
        ("not.or", "(id.eq.1)x", "position 9"),
        ("limit", "ten", "non-negative"),
        ("offset", "1.5", "non-negative"),
        // No name holds a NUL (one in a quoted identifier cut the statement's text: a 500).
        ("select", "a\0:id", "NUL"),
        ("select", "\"ti\0tle\"", "NUL"),
        ("select", "title->>\0", "NUL"),
        ("order", "ti\0tle", "NUL"),
    ];
    for (key, value, position) in cases {
        let r = app.get("/books", &[(key, value)]).await;
        let e = r.error(400, "PGRST100");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(key),
            "{key}={value}: the message names the parameter: {e}"
        );
        let details = e["details"].as_str().unwrap_or_default();
        assert!(
            details.contains(position),
            "{key}={value}: details should mention {position:?}: {e}"
        );
    }
}

#[sqlx::test]
async fn deep_nesting_is_refused_not_crashed(pool: PgPool) {
    let app = Rest::start(pool).await;

    let deep_or = format!("{}id.eq.1{}", "or(".repeat(40), ")".repeat(40));
    let r = app.get("/books", &[("or", &format!("({deep_or})"))]).await;
    let deep_select = format!("{}id{}", "books(".repeat(20), ")".repeat(20));
    let s = app.get("/authors", &[("select", &deep_select)]).await;

    r.error(400, "PGRST100");
    assert_eq!(s.status, 400, "{}", s.text);
}

#[sqlx::test]
async fn unknown_tables_and_columns(pool: PgPool) {
    let app = Rest::start(pool).await;

    let table = app.get("/nope", &[]).await;
    let private = app.get("/outbox", &[]).await;
    let select = app.get("/books", &[("select", "id,nope")]).await;
    let filter = app.get("/books", &[("nope", "eq.1")]).await;
    let order = app.get("/books", &[("order", "nope.desc")]).await;
    let embedded = app.get("/authors", &[("select", "id,books(nope)")]).await;

    let e = table.error(404, "PGRST205");
    assert_eq!(
        e["message"],
        "Could not find the table 'public.nope' in the schema cache"
    );
    private.error(404, "PGRST205");
    for r in [select, filter, order, embedded] {
        let e = r.error(400, "42703");
        assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");
    }
}

#[sqlx::test]
async fn type_errors_in_values_are_400(pool: PgPool) {
    let app = Rest::start(pool).await;

    let int = app.get("/books", &[("id", "eq.abc")]).await;
    let range = app.get("/books", &[("pub_range", "sl.nonsense")]).await;
    let cast = app.get("/books", &[("select", "title::nosuchtype")]).await;
    let tsquery = app.get("/books", &[("search", "fts.&&&")]).await;
    let regex = app.get("/books", &[("title", "match.(")]).await;
    let config = app.get("/books", &[("summary", "fts(klingon).x")]).await;

    int.error(400, "22P02");
    assert_eq!(range.status, 400, "{}", range.text);
    assert_eq!(cast.status, 400, "{}", cast.text);
    assert_eq!(tsquery.status, 400, "{}", tsquery.text);
    regex.error(400, "2201B");
    assert_eq!(config.status, 400, "{}", config.text);
}

#[sqlx::test]
async fn unsupported_methods(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(app.anon(Method::PUT, "/books", &[]).json(&json!({"id": 1}))).await;

    assert_eq!(r.status, 405, "{}", r.text);
    assert!(r.json()["code"].as_str().unwrap().starts_with("PGRST1"));
}

#[sqlx::test]
async fn overlong_query_strings_are_414(pool: PgPool) {
    let app = Rest::start_with(pool, &[("REST_MAX_QUERY_BYTES", "200")]).await;

    let long = "x".repeat(300);
    let r = app.get("/books", &[("title", &format!("eq.{long}"))]).await;
    let rpc = app.get("/rpc/add", &[("a", &long), ("b", "1")]).await;
    let short = app
        .get("/books", &[("title", "eq.Alpha"), ("select", "id")])
        .await;

    assert_eq!(r.status, 414, "{}", r.text);
    assert_eq!(rpc.status, 414, "{}", rpc.text);
    assert_eq!(short.status, 200, "{}", short.text);
}

#[sqlx::test]
async fn injection_attempts_are_refused_and_change_nothing(pool: PgPool) {
    let app = Rest::start(pool).await;
    sqlx::raw_sql("create table public.victim (id int); grant all on public.victim to anon;")
        .execute(&app.pool)
        .await
        .unwrap();

    let gets: &[(&str, &str)] = &[
        ("select", "id::text);drop table victim;--"),
        ("select", "id::text;drop table victim"),
        ("select", "id::text[];drop table victim"),
        ("select", "\"id\"\"; drop table victim; --\""),
        ("select", "x:id);drop table victim;--"),
        ("select", "data->>'a');drop table victim;--"),
        ("select", "authors!\"x\"\"; drop table victim;--\"(name)"),
        ("order", "id;drop table victim"),
        ("order", "id desc; drop table victim"),
        ("order", "id.desc;drop"),
        ("\"x\\\";drop\"", "eq.1"),
        ("\"x\";drop table victim;--", "eq.1"),
        ("id);drop table victim;--", "eq.1"),
        ("id", "eq.1);drop table victim;--"),
        ("title", "eq.'; drop table victim; --"),
        ("data->>a'); drop table victim; --", "eq.1"),
        ("search", "fts(english'); drop table victim; --).x"),
        ("or", "(id.eq.1);drop table victim;--)"),
        ("limit", "1;drop table victim"),
        ("offset", "0; drop table victim"),
    ];
    for (key, value) in gets {
        let r = app.get("/books", &[(key, value)]).await;
        assert!(
            (400..500).contains(&r.status) || r.status == 200 && r.json() == json!([]),
            // Values are bound: a hostile value finds nothing; everything else is refused.
            "{key}={value}: {} {}",
            r.status,
            r.text
        );
    }
    let writes = [
        send(
            app.anon(
                Method::POST,
                "/tags",
                &[("on_conflict", "id);drop table victim;--")],
            )
            .header("prefer", "resolution=merge-duplicates")
            .json(&json!({"id": 1, "name": "x"})),
        )
        .await,
        send(
            app.anon(
                Method::POST,
                "/tags",
                &[("on_conflict", "\"id) do nothing; drop table victim; --\"")],
            )
            .header("prefer", "resolution=merge-duplicates")
            .json(&json!({"id": 1, "name": "x"})),
        )
        .await,
        send(
            app.anon(
                Method::POST,
                "/tags",
                &[(
                    "columns",
                    "id,\"name\"\") values (1, 'x'); drop table victim; --\"",
                )],
            )
            .json(&json!([{"id": 9, "name": "x"}])),
        )
        .await,
        send(
            app.anon(
                Method::POST,
                "/tags",
                &[("columns", "id);drop table victim;--")],
            )
            .json(&json!([{"id": 9, "name": "x"}])),
        )
        .await,
        send(
            app.anon(Method::POST, "/tags", &[])
                .json(&json!({"id": 9, "name\") values (1,'x'); drop table victim; --": "x"})),
        )
        .await,
        send(
            app.anon(Method::PATCH, "/tags", &[("id", "eq.1")])
                .json(&json!({"name\" = 'x'; drop table victim; --": "x"})),
        )
        .await,
        send(
            app.anon(Method::POST, "/rpc/add", &[])
                .json(&json!({"a": "1); drop table victim; --", "b": 1})),
        )
        .await,
        send(
            app.anon(Method::POST, "/rpc/add", &[])
                .json(&json!({"a\") ; drop table victim; --": 1, "b": 1})),
        )
        .await,
        send(
            app.anon(Method::GET, "/books", &[])
                .header("accept-profile", "public\"; drop table victim; --"),
        )
        .await,
        send(app.anon(Method::GET, "/books\";drop table victim;--", &[])).await,
        send(
            app.anon(Method::POST, "/rpc/add\";drop table victim;--", &[])
                .json(&json!({})),
        )
        .await,
    ];
    for r in &writes {
        assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
    }

    assert!(
        table_exists(&app.pool, "victim").await,
        "the victim table survived"
    );
    assert_eq!(app.scalar("select count(*) from public.books").await, 5);
    assert_eq!(
        app.scalar("select count(*) from public.tags where id = 1 and name = 'fiction'")
            .await,
        1
    );
    assert_eq!(app.scalar("select count(*) from public.tags").await, 3);
}

#[sqlx::test]
async fn hostile_values_are_bound_not_spliced(pool: PgPool) {
    let app = Rest::start(pool).await;

    let title = "Robert'); drop table books; --";
    let inserted = send(
        app.anon(Method::POST, "/books", &[("select", "title")])
            .header("prefer", "return=representation")
            .json(&json!({"title": title})),
    )
    .await;
    let found = app
        .get(
            "/books",
            &[("select", "title"), ("title", &format!("eq.{title}"))],
        )
        .await;
    let json_key = app
        .get(
            "/books",
            &[
                ("select", "id,data->\"a'); drop table books; --\""),
                ("data->>\"a'; drop table books; --\"", "is.null"),
                ("id", "eq.1"),
            ],
        )
        .await;

    assert_eq!(inserted.status, 201, "{}", inserted.text);
    assert_eq!(found.json(), json!([{"title": title}]));
    assert_eq!(json_key.status, 200, "{}", json_key.text);
    assert_eq!(
        json_key.json(),
        json!([{"id": 1, "a'); drop table books; --": null}])
    );
    assert!(table_exists(&app.pool, "books").await);
}

#[sqlx::test]
async fn the_root_is_the_openapi_document_and_nested_paths_are_unknown(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app.get("/", &[]).await;
    let nested = app.get("/books/1", &[]).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["swagger"], "2.0");
    nested.error(404, "PGRST125");
}

#[sqlx::test]
async fn trailing_garbage_after_a_list_is_pgrst100(pool: PgPool) {
    let app = Rest::start(pool).await;

    let in_list = app.get("/books", &[("id", "in.(1,2)garbage")]).await;
    let quantified = app.get("/books", &[("id", "eq(any).{1,2}garbage")]).await;

    in_list.error(400, "PGRST100");
    quantified.error(400, "PGRST100");
}

#[sqlx::test]
async fn modifiers_of_a_resource_that_is_not_embedded_are_pgrst108(pool: PgPool) {
    let app = Rest::start(pool).await;

    let filter = app
        .get(
            "/authors",
            &[("select", "name"), ("books.title", "eq.Alpha")],
        )
        .await;
    let order = app
        .get("/authors", &[("select", "name"), ("books.order", "title")])
        .await;

    filter.error(400, "PGRST108");
    order.error(400, "PGRST108");
}
