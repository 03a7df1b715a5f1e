//! Horizontal filters: every operator, `not.`, `(any)`/`(all)`, full-text search and the logic
//! trees `or=(…)`, `and=(…)`, nested and negated. Books (see the fixture):
//!
//! | id | title             | author | pages | price | available | tags       | pub_range |
//! |----|-------------------|--------|-------|-------|-----------|------------|-----------|
//! | 1  | Alpha             | 1      | 100   | 9.99  | true      | {rust,db}  | [1,10)    |
//! | 2  | Beta              | 1      | 200   | 19.50 | false     | {go}       | [10,20)   |
//! | 3  | Gamma             | 2      | null  | null  | null      | {}         | [5,15)    |
//! | 4  | Delta, with comma | 2      | 300   | 5.00  | true      | {rust,web} | [20,30)   |
//! | 5  | Epsilon           | null   | 50    | 0.50  | false     | {db}       | [30,40)   |

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{Rest, send};

/// Query pairs and the ids of the books they select.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [i64]);

/// Asserts the ids each filter (one or more query pairs) selects.
async fn check(app: &Rest, cases: &[Case<'_>]) {
    for (pairs, expected) in cases {
        assert_eq!(&app.book_ids(pairs).await, expected, "filter {pairs:?}");
    }
}

#[sqlx::test]
async fn comparison_operators(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("pages", "eq.100")], &[1]),
            (&[("pages", "neq.100")], &[2, 4, 5]),
            (&[("pages", "gt.100")], &[2, 4]),
            (&[("pages", "gte.100")], &[1, 2, 4]),
            (&[("pages", "lt.100")], &[5]),
            (&[("pages", "lte.100")], &[1, 5]),
            (&[("price", "gt.9")], &[1, 2]),
            (&[("price", "lte.5")], &[4, 5]),
            (&[("price", "eq.19.5")], &[2]),
            (&[("title", "eq.Delta, with comma")], &[4]),
            (&[("published_at", "gte.2024-01-15")], &[2, 5]),
            (&[("published_at", "lt.2024-01-15T00:00:00Z")], &[1, 4]),
            (&[("pages", "gt.50"), ("pages", "lt.300")], &[1, 2]),
            (&[("pages", "not.eq.100")], &[2, 4, 5]),
            (&[("pages", "not.gt.100")], &[1, 5]),
            (&[("pages", "not.lte.100")], &[2, 4]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn pattern_operators(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("title", "like.*lph*")], &[1]),
            (&[("title", "like.%lph%")], &[1]),
            (&[("title", "like.*LPH*")], &[]),
            (&[("title", "ilike.*LPH*")], &[1]),
            (&[("title", "ilike.d*")], &[4]),
            (&[("title", "match.^[AB]")], &[1, 2]),
            (&[("title", "match.^[ab]")], &[]),
            (&[("title", "imatch.^[ab]")], &[1, 2]),
            (&[("title", "not.like.*a*")], &[5]),
            (&[("title", "not.ilike.*A*")], &[5]),
            (&[("title", "not.match.a$")], &[5]),
            (&[("title", "not.imatch.^[ABG]")], &[4, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn in_lists_with_quoted_values(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("id", "in.(1,3,99)")], &[1, 3]),
            (&[("title", "in.(\"Delta, with comma\",Alpha)")], &[1, 4]),
            (&[("title", "in.(Beta, \"Gamma\")")], &[2, 3]),
            (&[("id", "not.in.(1,2,3)")], &[4, 5]),
            (&[("id", "in.()")], &[]),
            (&[("price", "in.(9.99,0.5)")], &[1, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn is_and_isdistinct(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("pages", "is.null")], &[3]),
            (&[("pages", "is.not_null")], &[1, 2, 4, 5]),
            (&[("pages", "not.is.null")], &[1, 2, 4, 5]),
            (&[("available", "is.true")], &[1, 4]),
            (&[("available", "is.false")], &[2, 5]),
            (&[("available", "is.NULL")], &[3]),
            (&[("available", "is.unknown")], &[3]),
            (&[("available", "not.is.true")], &[2, 3, 5]),
            (&[("available", "not.is.false")], &[1, 3, 4]),
            (&[("pages", "isdistinct.100")], &[2, 3, 4, 5]),
            (&[("pages", "not.isdistinct.100")], &[1]),
            (&[("author_id", "isdistinct.1")], &[3, 4, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn array_and_json_containment(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("tags", "cs.{rust}")], &[1, 4]),
            (&[("tags", "cs.{rust,db}")], &[1]),
            (&[("tags", "cd.{rust,db,go}")], &[1, 2, 3, 5]),
            (&[("tags", "ov.{web,go}")], &[2, 4]),
            (&[("tags", "not.cs.{rust}")], &[2, 3, 5]),
            (&[("tags", "not.ov.{web,go}")], &[1, 3, 5]),
            (&[("data", "cs.{\"a\":{\"b\":\"x\"}}")], &[1]),
            (&[("data", "cd.{\"n\":5,\"m\":1}")], &[5]),
            (&[("data", "not.cs.{\"n\":1}")], &[2, 4, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn range_operators(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("pub_range", "sl.[15,16)")], &[1, 3]),
            (&[("pub_range", "sr.[15,16)")], &[4, 5]),
            (&[("pub_range", "nxr.[0,15)")], &[1, 3]),
            (&[("pub_range", "nxl.[25,26)")], &[5]),
            (&[("pub_range", "adj.[20,25)")], &[2]),
            (&[("pub_range", "ov.[12,22)")], &[2, 3, 4]),
            (&[("pub_range", "cs.[6,8)")], &[1, 3]),
            (&[("pub_range", "cd.[0,16)")], &[1, 3]),
            (&[("pub_range", "not.sl.[15,16)")], &[2, 4, 5]),
            (&[("pub_range", "not.adj.[20,25)")], &[1, 3, 4, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn full_text_search(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            // A tsvector column.
            (&[("search", "fts.quick")], &[1, 4]),
            (&[("search", "fts(english).fox")], &[1, 4]),
            (&[("search", "fts.quick & brown")], &[1]),
            (&[("search", "plfts.quick brown")], &[1]),
            (&[("search", "phfts(english).quick summary")], &[4]),
            (&[("search", "phfts(english).brown quick")], &[]),
            (
                &[("search", "wfts(english).\"lazy dogs\" or cats")],
                &[2, 3],
            ),
            (&[("search", "wfts.quick -foxes")], &[]),
            (&[("search", "not.fts.quick")], &[2, 3, 5]),
            // A text column gets to_tsvector.
            (&[("summary", "fts.cats")], &[3]),
            (&[("summary", "fts(english).foxes")], &[1, 4]),
            (&[("summary", "fts(simple).foxes")], &[4]),
            (&[("summary", "plfts(english).fat cats")], &[3]),
            (&[("summary", "phfts.fat cats")], &[3]),
            (&[("summary", "wfts(english).sleeping")], &[2]),
            (&[("summary", "not.plfts(english).fox")], &[2, 3, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn any_and_all_modifiers(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("pages", "eq(any).{100,300}")], &[1, 4]),
            (&[("pages", "gt(all).{60,150}")], &[2, 4]),
            (&[("pages", "lt(any).{60,150}")], &[1, 5]),
            (&[("pages", "gte(all).{100,200}")], &[2, 4]),
            (&[("pages", "lte(any).{50}")], &[5]),
            (&[("title", "like(any).{A*,*ta}")], &[1, 2]),
            (&[("title", "like(all).{*a*,*l*}")], &[1, 4]),
            (&[("title", "ilike(any).{alpha,EPS*}")], &[1, 5]),
            (&[("title", "match(any).{^A,^E}")], &[1, 5]),
            (&[("title", "imatch(all).{^a,A$}")], &[1]),
            (&[("pages", "not.eq(any).{100,300}")], &[2, 5]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn json_path_filters(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("data->a->>b", "eq.y")], &[2]),
            (&[("data->>n", "eq.1")], &[1]),
            (&[("data->n", "gt.1")], &[2, 5]),
            (&[("data->a->>b", "in.(x,z)")], &[1, 4]),
            (&[("data->>n", "is.null")], &[3, 4]),
            (&[("data->a", "cs.{\"b\":\"z\"}")], &[4]),
        ],
    )
    .await;
}

#[sqlx::test]
async fn logic_trees(pool: PgPool) {
    let app = Rest::start(pool).await;

    check(
        &app,
        &[
            (&[("or", "(pages.lt.60,title.eq.Alpha)")], &[1, 5]),
            (&[("and", "(pages.gte.100,available.is.true)")], &[1, 4]),
            (
                &[("or", "(id.eq.5,and(pages.gt.150,available.is.true))")],
                &[4, 5],
            ),
            (
                &[("or", "(id.eq.1,and(author_id.is.null,pages.lt.100))")],
                &[1, 5],
            ),
            (&[("not.or", "(id.eq.1,id.eq.2)")], &[3, 4, 5]),
            // Gamma: `null >= 100` is null but `null is true` is false, so the `and` is false.
            (
                &[("not.and", "(pages.gte.100,available.is.true)")],
                &[2, 3, 5],
            ),
            (
                &[("or", "(title.in.(\"Delta, with comma\",Beta),id.eq.5)")],
                &[2, 4, 5],
            ),
            (&[("or", "(pages.not.gt.100,id.eq.3)")], &[1, 3, 5]),
            (
                &[("or", "(title.eq.\"Delta, with comma\",id.eq.1)")],
                &[1, 4],
            ),
            (&[("or", "(tags.cs.{go},pub_range.adj.\"[20,25)\")")], &[2]),
            (&[("or", "(pub_range.sr.\"[15,16)\",id.eq.1)")], &[1, 4, 5]),
            (&[("or", "(data->a->>b.eq.z,id.eq.3)")], &[3, 4]),
            (&[("or", "(title.like.A*,title.ilike.*silon)")], &[1, 5]),
            (&[("or", "(not.and(id.gt.1,id.lt.5),id.eq.3)")], &[1, 3, 5]),
            (&[("or", "(pages.eq(any).{50,200},id.eq.1)")], &[1, 2, 5]),
            (&[("or", "(search.fts(english).fox,id.eq.2)")], &[1, 2, 4]),
            // Several trees and plain filters are ANDed.
            (
                &[
                    ("or", "(id.eq.1,id.eq.2,id.eq.4)"),
                    ("or", "(available.is.true,id.eq.2)"),
                    ("pages", "lt.250"),
                ],
                &[1, 2],
            ),
        ],
    )
    .await;
}

#[sqlx::test]
async fn filters_arrive_encoded_the_way_url_search_params_sends_them(pool: PgPool) {
    let app = Rest::start(pool).await;

    // Spaces as `+`, `%` as `%25`, `&` and `'` inside a value percent-encoded (Appendix A).
    let spaces = send(app.raw(Method::GET, "/books?select=id&title=eq.Delta,+with+comma")).await;
    let percent = send(app.raw(Method::GET, "/books?select=id&title=like.%25lph%25")).await;
    let tsquery = send(app.raw(
        Method::GET,
        "/books?select=id&order=id&search=fts(english).%27quick%27+%26+%27fox%27",
    ))
    .await;

    assert_eq!(spaces.status, 200, "{}", spaces.text);
    assert_eq!(spaces.json(), json!([{"id": 4}]));
    assert_eq!(percent.status, 200, "{}", percent.text);
    assert_eq!(percent.json(), json!([{"id": 1}]));
    assert_eq!(tsquery.status, 200, "{}", tsquery.text);
    assert_eq!(tsquery.json(), json!([{"id": 1}, {"id": 4}]));
}

#[sqlx::test]
async fn quoted_column_names_in_filter_keys(pool: PgPool) {
    sqlx::raw_sql(
        r#"create table public.odd ("a.b" int, "with space" text);
           insert into public.odd values (1, 'x'), (2, 'y');
           grant select on public.odd to anon;"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start(pool).await;

    let dotted = app
        .get("/odd", &[("select", "\"with space\""), ("\"a.b\"", "eq.2")])
        .await;

    assert_eq!(dotted.status, 200, "{}", dotted.text);
    assert_eq!(dotted.json(), json!([{"with space": "y"}]));
}
