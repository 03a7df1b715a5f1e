//! The embedded PostgreSQL supervisor: first start, restart with data kept, a stale
//! `postmaster.pid`, adopting a server a killed bizbase left running, and `/ready` following the
//! database down and up without a restart of bizbase.

use std::time::Duration;

use bizbase::db::{self, EmbeddedPostgres};
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::harness::TestApp;

async fn pool_for(pg: &EmbeddedPostgres) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(pg.connect_options())
        .await
        .unwrap()
}

fn postmaster_pid(pg: &EmbeddedPostgres) -> Option<String> {
    let text = std::fs::read_to_string(pg.pgdata().join("postmaster.pid")).ok()?;
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn starts_on_a_socket_only_and_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(dir.path(), None).unwrap();
    pg.start().await.unwrap();
    let pool = pool_for(&pg).await;
    sqlx::query("create table kept (v text)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("insert into kept values ('still here')")
        .execute(&pool)
        .await
        .unwrap();
    let listen: String = sqlx::query_scalar("show listen_addresses")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    pg.stop().await.unwrap();
    assert_eq!(listen, "", "the embedded server must not open a TCP port");
    assert!(
        postmaster_pid(&pg).is_none(),
        "a clean stop removes postmaster.pid"
    );

    let again = EmbeddedPostgres::new(dir.path(), None).unwrap();
    again.start().await.unwrap();
    let pool = pool_for(&again).await;
    let v: String = sqlx::query_scalar("select v from kept")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    again.stop().await.unwrap();

    assert_eq!(v, "still here");
}

#[tokio::test]
async fn starts_after_a_crash_left_a_stale_postmaster_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(dir.path(), None).unwrap();
    pg.start().await.unwrap();
    pg.stop().await.unwrap();
    // A pid that is certainly not running any more, as after a power cut.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        pg.pgdata().join("postmaster.pid"),
        format!(
            "{dead_pid}\n{}\n1700000000\n5432\n\n\n  1  2\nready   \n",
            pg.pgdata().display()
        ),
    )
    .unwrap();

    let restarted = EmbeddedPostgres::new(dir.path(), None).unwrap();
    restarted.start().await.unwrap();
    let pool = pool_for(&restarted).await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    restarted.stop().await.unwrap();

    assert_eq!(one, 1);
}

#[tokio::test]
async fn adopts_a_server_left_running_by_a_killed_bizbase() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedPostgres::new(dir.path(), None).unwrap();
    first.start().await.unwrap();
    let pid = postmaster_pid(&first).unwrap();
    // The supervising process vanishes without stopping its server (as with kill -9).
    std::mem::forget(first);

    let second = EmbeddedPostgres::new(dir.path(), None).unwrap();
    second.start().await.unwrap();
    assert_eq!(
        postmaster_pid(&second).as_deref(),
        Some(pid.as_str()),
        "the running server is reused"
    );
    second.stop().await.unwrap();

    assert!(postmaster_pid(&second).is_none());
    // The server is gone (in this test it was our child, so at most an unreaped zombie remains).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().chars().next());
    assert!(
        matches!(state, None | Some(Some('Z'))),
        "the adopted server is stopped: {stat}"
    );
}

#[tokio::test]
async fn ready_turns_503_when_the_database_goes_away_and_200_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(&dir.path().join("data"), None).unwrap();
    pg.start().await.unwrap();
    let pool = pool_for(&pg).await;
    db::migrate(&pool).await.unwrap();
    let app = TestApp::spawn(pool.clone()).await;
    assert_eq!(app.get("/ready").await.status(), 200);

    pg.stop().await.unwrap();
    let down = app.get("/ready").await;
    assert_eq!(down.status(), 503);
    assert_eq!(
        down.json::<serde_json::Value>().await.unwrap()["code"],
        "service_unavailable"
    );
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "liveness does not depend on the database"
    );

    pg.start().await.unwrap();
    assert_eq!(app.get("/ready").await.status(), 200);
    pool.close().await;
    pg.stop().await.unwrap();
}

#[test]
fn a_bin_dir_without_postgres_is_refused_with_the_variable_named() {
    let dir = tempfile::tempdir().unwrap();

    let err = EmbeddedPostgres::new(dir.path(), Some(dir.path())).unwrap_err();

    assert!(err.to_string().contains("BIZBASE_PG_BIN_DIR"), "{err}");
}
