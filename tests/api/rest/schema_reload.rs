//! The schema cache follows the database: on `NOTIFY pgrst, 'reload schema'`, and by itself after
//! DDL through the event triggers of migration 0050, one reload per burst of statements.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use super::Rest;

/// Polls `path` as anon until `done` holds for its answer or 5 s pass; returns the last answer.
async fn poll(app: &Rest, path: &str, done: impl Fn(&super::Reply) -> bool) -> super::Reply {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = app.get(path, &[]).await;
        if done(&r) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn the_schema_cache_reloads_on_notify(pool: PgPool) {
    let app = Rest::start(pool).await;
    assert_eq!(
        app.get("/books", &[("select", "id"), ("limit", "1")])
            .await
            .status,
        200
    );

    // As on a database where bizbase is no superuser: no event trigger, a NOTIFY by hand.
    sqlx::raw_sql(
        "alter event trigger bizbase_schema_changed disable; \
         alter event trigger bizbase_schema_dropped disable;",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::raw_sql(
        "create table public.late (id int primary key, name text); \
         insert into public.late values (1, 'late'); \
         grant select on public.late to anon; \
         create function public.late_fn() returns int language sql stable as $$ select 7 $$; \
         alter table public.books add column late_col text default 'lc'; \
         notify pgrst, 'reload schema';",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let served = poll(&app, "/late", |r| r.status == 200).await;
    assert_eq!(served.status, 200, "not served within 5 s: {}", served.text);
    assert_eq!(served.json(), json!([{"id": 1, "name": "late"}]));
    assert_eq!(app.get("/rpc/late_fn", &[]).await.json(), json!(7));
    let col = app
        .get("/books", &[("select", "late_col"), ("id", "eq.1")])
        .await;
    assert_eq!(col.json(), json!([{"late_col": "lc"}]));

    sqlx::raw_sql("drop table public.late; notify pgrst;")
        .execute(&app.pool)
        .await
        .unwrap();
    // Until the reload, the stale cache lets PostgreSQL answer 42P01.
    let gone = poll(&app, "/late", |r| r.json()["code"] == "PGRST205").await;
    gone.error(404, "PGRST205");
}

#[sqlx::test]
async fn the_schema_cache_follows_ddl_without_a_notify(pool: PgPool) {
    let app = Rest::start(pool).await;
    assert_eq!(app.get("/books", &[("limit", "1")]).await.status, 200);

    // Each statement on its own (autocommit), none of them a NOTIFY.
    for sql in [
        "create table public.ddl_made (id int primary key, name text)",
        "insert into public.ddl_made values (1, 'made')",
        "grant select on public.ddl_made to anon",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    let served = poll(&app, "/ddl_made", |r| r.status == 200).await;
    assert_eq!(served.status, 200, "not served within 5 s: {}", served.text);
    assert_eq!(served.json(), json!([{"id": 1, "name": "made"}]));

    // A column added, then a comment: ALTER and COMMENT notify too.
    sqlx::query("alter table public.ddl_made add column extra text default 'x'")
        .execute(&app.pool)
        .await
        .unwrap();
    let col = poll(&app, "/ddl_made?select=extra", |r| r.status == 200).await;
    assert_eq!(col.json(), json!([{"extra": "x"}]));

    // A drop notifies through `sql_drop`.
    sqlx::query("drop table public.ddl_made")
        .execute(&app.pool)
        .await
        .unwrap();
    let gone = poll(&app, "/ddl_made", |r| r.json()["code"] == "PGRST205").await;
    gone.error(404, "PGRST205");
}

#[sqlx::test]
async fn a_burst_of_ddl_costs_one_reload_and_temporary_tables_indexes_and_refreshes_none(
    pool: PgPool,
) {
    let app = Rest::start(pool).await;
    assert_eq!(app.get("/books", &[("limit", "1")]).await.status, 200);
    let settled = || tokio::time::sleep(Duration::from_millis(1_500));
    settled().await;
    let before = app.state.rest.loads();

    // Twenty statements, each committed on its own, each notifying.
    for i in 0..20 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create table public.burst_{i} (id int)"
        )))
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let last = poll(&app, "/burst_19", |r| r.json()["code"] != "PGRST205").await;
    assert_ne!(last.json()["code"], "PGRST205", "{}", last.text);
    settled().await;
    let reloads = app.state.rest.loads() - before;
    assert!(
        (1..=4).contains(&reloads),
        "twenty statements in a burst reloaded {reloads} times"
    );

    // A temporary table is nobody else's business; an index or a refresh changes nothing cached.
    sqlx::query("create materialized view public.burst_mv as select 1 as x")
        .execute(&app.pool)
        .await
        .unwrap();
    settled().await;
    let before = app.state.rest.loads();
    let mut conn = app.pool.acquire().await.unwrap();
    for sql in [
        "create temp table scratch (id int)",
        "drop table scratch",
        "create index burst_0_id on public.burst_0 (id)",
        "alter index burst_0_id rename to burst_0_id2",
        "drop index burst_0_id2",
        "refresh materialized view public.burst_mv",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
    settled().await;
    assert_eq!(app.state.rest.loads(), before);
}
