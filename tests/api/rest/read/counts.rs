//! Counts in `Content-Range`: exact, planned (the planner's estimate, here made stale on purpose)
//! and estimated (exact up to the maximum rows).

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{Reply, Rest, send};

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
