//! `/rest/v1/rpc/{function}`: named arguments by POST and GET, set-returning functions filtered
//! like tables, a single JSON argument, void, and the resolution errors.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{Rest, send, strings};

#[sqlx::test]
async fn post_with_named_arguments(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/rpc/add", &[])
            .json(&json!({"a": 1, "b": 2})),
    )
    .await;
    let strings_as_numbers = send(
        app.anon(Method::POST, "/rpc/add", &[])
            .json(&json!({"b": "40", "a": 2})),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.json(), json!(3));
    assert_eq!(strings_as_numbers.json(), json!(42));
}

#[sqlx::test]
async fn get_with_query_arguments(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app.get("/rpc/add", &[("a", "1"), ("b", "2")]).await;
    let head = send(app.anon(Method::HEAD, "/rpc/add", &[("a", "1"), ("b", "2")])).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!(3));
    assert_eq!(head.status, 200);
    assert_eq!(head.text, "");
}

#[sqlx::test]
async fn set_returning_functions_take_select_filters_order_and_paging(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get(
            "/rpc/books_by",
            &[
                ("aid", "1"),
                ("select", "title"),
                ("order", "title.desc"),
                ("limit", "1"),
            ],
        )
        .await;
    let filtered = app
        .get(
            "/rpc/books_by",
            &[
                ("aid", "2"),
                ("select", "id,authors(name)"),
                ("pages", "is.null"),
            ],
        )
        .await;
    let posted = send(
        app.anon(
            Method::POST,
            "/rpc/books_by",
            &[("select", "title"), ("order", "id")],
        )
        .json(&json!({"aid": 1})),
    )
    .await;
    let counted = send(
        app.anon(
            Method::GET,
            "/rpc/books_by",
            &[("aid", "1"), ("select", "id"), ("limit", "1")],
        )
        .header("prefer", "count=exact"),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!([{"title": "Beta"}]));
    assert_eq!(
        filtered.json(),
        json!([{"id": 3, "authors": {"name": "Brian"}}])
    );
    assert_eq!(posted.status, 200, "{}", posted.text);
    assert_eq!(strings(&posted.json(), "title"), ["Alpha", "Beta"]);
    assert_eq!(counted.header("content-range"), Some("0-0/2"));
    assert_eq!(counted.json(), json!([{"id": 1}]));
}

#[sqlx::test]
async fn a_single_json_argument_receives_the_whole_body(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/rpc/echo", &[])
            .json(&json!({"x": 1, "nested": {"y": [1, 2]}})),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"x": 1, "nested": {"y": [1, 2]}}));
}

#[sqlx::test]
async fn void_functions_answer_204(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/rpc/log_it", &[])
            .json(&json!({"msg": "hello"})),
    )
    .await;

    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.text, "");
    assert_eq!(
        app.scalar("select count(*) from public.call_log where msg = 'hello'")
            .await,
        1
    );
}

#[sqlx::test]
async fn volatile_functions_write_by_post_but_not_by_get(pool: PgPool) {
    let app = Rest::start(pool).await;

    let posted = send(
        app.anon(Method::POST, "/rpc/new_author", &[])
            .json(&json!({"id": 7, "name": "Dora"})),
    )
    .await;
    let by_get = app
        .get("/rpc/new_author", &[("id", "8"), ("name", "Eve")])
        .await;

    assert_eq!(posted.status, 200, "{}", posted.text);
    assert_eq!(posted.json(), json!(7));
    let e = by_get.error(405, "25006");
    assert!(e["message"].as_str().unwrap().contains("read-only"), "{e}");
    assert_eq!(
        app.scalar("select count(*) from public.authors where id in (7, 8)")
            .await,
        1
    );
}

#[sqlx::test]
async fn unknown_functions_and_arguments_are_pgrst202(pool: PgPool) {
    let app = Rest::start(pool).await;

    let unknown = send(app.anon(Method::POST, "/rpc/nope", &[]).json(&json!({}))).await;
    let wrong_args = send(
        app.anon(Method::POST, "/rpc/add", &[])
            .json(&json!({"a": 1, "c": 2})),
    )
    .await;
    let missing_arg = app.get("/rpc/add", &[("a", "1")]).await;

    unknown.error(404, "PGRST202");
    wrong_args.error(404, "PGRST202");
    missing_arg.error(404, "PGRST202");
}

#[sqlx::test]
async fn overload_ambiguity_is_pgrst203(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/rpc/over", &[])
            .json(&json!({"a": 1})),
    )
    .await;

    r.error(300, "PGRST203");
}

#[sqlx::test]
async fn other_methods_are_pgrst101(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::PATCH, "/rpc/add", &[])
            .json(&json!({"a": 1, "b": 2})),
    )
    .await;

    r.error(405, "PGRST101");
}

#[sqlx::test]
async fn rpc_errors_from_the_function_body(pool: PgPool) {
    let app = Rest::start(pool).await;

    let bad_value = app.get("/rpc/add", &[("a", "one"), ("b", "2")]).await;

    bad_value.error(400, "22P02");
}

#[sqlx::test]
async fn array_arguments_by_post_and_get(pool: PgPool) {
    let app = Rest::start(pool).await;

    let posted = send(
        app.anon(Method::POST, "/rpc/sum_all", &[])
            .json(&json!({"nums": [1, 2, 3]})),
    )
    .await;
    let by_get = app.get("/rpc/sum_all", &[("nums", "{4,5}")]).await;

    assert_eq!(posted.status, 200, "{}", posted.text);
    assert_eq!(posted.json(), json!(6));
    assert_eq!(by_get.status, 200, "{}", by_get.text);
    assert_eq!(by_get.json(), json!(9));
}

#[sqlx::test]
async fn arguments_with_defaults_may_be_left_out(pool: PgPool) {
    let app = Rest::start(pool).await;

    let none = send(app.anon(Method::POST, "/rpc/greet", &[]).json(&json!({}))).await;
    let some = send(
        app.anon(Method::POST, "/rpc/greet", &[])
            .json(&json!({"punct": "?"})),
    )
    .await;
    let by_get = app.get("/rpc/greet", &[("name", "you")]).await;

    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.json(), json!("hello world!"));
    assert_eq!(some.json(), json!("hello world?"));
    assert_eq!(by_get.json(), json!("hello you!"));
}

#[sqlx::test]
async fn table_returning_functions_without_a_row_type(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(app.anon(Method::POST, "/rpc/pairs", &[]).json(&json!({}))).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"n": 1, "word": "one"}, {"n": 2, "word": "two"}])
    );
}

#[sqlx::test]
async fn functions_returning_their_own_columns_are_selected_filtered_ordered_and_paged(
    pool: PgPool,
) {
    let app = Rest::start(pool).await;

    let table = app
        .get(
            "/rpc/pairs",
            &[("select", "word"), ("n", "gt.1"), ("order", "n.desc")],
        )
        .await;
    let composite = send(
        app.anon(
            Method::GET,
            "/rpc/spans",
            &[("hi", "gte.5"), ("order", "hi.desc"), ("limit", "1")],
        )
        .header("prefer", "count=exact"),
    )
    .await;
    let out_parameters = app.get("/rpc/bounds", &[("select", "hi")]).await;
    let unknown_column = app.get("/rpc/pairs", &[("select", "nope")]).await;
    let unnamed = app.get("/rpc/unnamed_out", &[("a", "5")]).await;
    let all_unnamed = app.get("/rpc/all_unnamed", &[("select", "column2")]).await;

    assert_eq!(table.status, 200, "{}", table.text);
    assert_eq!(table.json(), json!([{"word": "two"}]));
    assert_eq!(composite.status, 206, "{}", composite.text);
    assert_eq!(composite.json(), json!([{"lo": 6, "hi": 9}]));
    assert_eq!(composite.header("content-range"), Some("0-0/2"));
    assert_eq!(out_parameters.status, 200, "{}", out_parameters.text);
    assert_eq!(out_parameters.json(), json!({"hi": 9}));
    unknown_column.error(400, "42703");
    assert_eq!(unnamed.status, 200, "{}", unnamed.text);
    assert_eq!(unnamed.json(), json!({"column1": 5, "b": "x"}));
    assert_eq!(all_unnamed.json(), json!({"column2": "y"}));
}

#[sqlx::test]
async fn a_counted_call_runs_the_function_once(pool: PgPool) {
    let app = Rest::start(pool.clone()).await;

    let r = send(
        app.anon(Method::POST, "/rpc/logged_pairs", &[("limit", "1")])
            .header("prefer", "count=exact")
            .json(&json!({})),
    )
    .await;

    assert_eq!(r.status, 206, "{}", r.text);
    assert_eq!(r.header("content-range"), Some("0-0/2"));
    let runs: i64 = sqlx::query_scalar("select count(*) from public.call_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);
}

#[sqlx::test]
async fn an_offset_past_a_counted_result_is_416(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::GET, "/rpc/spans", &[("offset", "5")])
            .header("prefer", "count=exact"),
    )
    .await;

    r.error(416, "PGRST103");
}

#[sqlx::test]
async fn a_function_returning_one_row_answers_an_object(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = app
        .get("/rpc/book", &[("bid", "2"), ("select", "id,title")])
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"id": 2, "title": "Beta"}));
}

#[sqlx::test]
async fn a_function_returning_setof_a_scalar_answers_an_array(pool: PgPool) {
    let app = Rest::start(pool).await;

    let r = send(
        app.anon(Method::POST, "/rpc/small_ints", &[])
            .json(&json!({})),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!([1, 2, 3]));
}

#[sqlx::test]
async fn raised_exceptions_keep_their_message_detail_and_hint(pool: PgPool) {
    let app = Rest::start(pool).await;

    let custom = app.get("/rpc/fail", &[("kind", "custom")]).await;
    let plain = app.get("/rpc/fail", &[("kind", "plain")]).await;
    let unavailable = app.get("/rpc/fail", &[("kind", "unavailable")]).await;
    let internal = app.get("/rpc/fail", &[("kind", "internal")]).await;
    let serialize = app.get("/rpc/fail", &[("kind", "serialize")]).await;

    let e = custom.error(402, "PT402");
    assert_eq!(e["message"], "Payment required");
    assert_eq!(e["details"], "pay up");
    assert_eq!(e["hint"], "card");
    let e = plain.error(400, "P0001");
    assert_eq!(e["message"], "boom: plain");
    assert_eq!(e["hint"], "try again");
    // A 5xx a function raises on purpose is the function's answer; any other stays internal.
    let e = unavailable.error(503, "PT503");
    assert_eq!(e["message"], "Try later");
    assert_eq!(e["hint"], "maintenance");
    serialize.error(500, "40001");
    assert_eq!(internal.status, 500);
    assert!(!internal.text.contains("secret"), "{}", internal.text);
}
