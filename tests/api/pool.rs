//! The connection pool: a connection handed back within a second is reused without a ping (sqlx
//! proved it alive on release); one that sat idle longer is pinged and replaced if it died.

use std::time::Duration;

use bizbase::{
    Config,
    config::Sources,
    db::identity::{self, Access, Identity},
};
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::harness::JWT_SECRET;

/// bizbase's pool settings, one connection, over the test's database.
fn own_options() -> PgPoolOptions {
    let data_dir = tempfile::tempdir().unwrap();
    let mut src = Sources::default();
    src.set("DATA_DIR", &data_dir.path().to_string_lossy());
    src.set("JWT_SECRET", JWT_SECRET);
    let config = Config::from_sources(&src).unwrap();
    bizbase::db::pool_options(&config).max_connections(1)
}

async fn own_pool(test_pool: &PgPool) -> PgPool {
    own_pool_of(test_pool, 1).await
}

/// bizbase's pool settings with `max` connections, over the test's database.
pub(crate) async fn own_pool_of(test_pool: &PgPool, max: u32) -> PgPool {
    connect(own_options().max_connections(max), test_pool).await
}

/// [`own_pool`] that never checks a connection before handing it out, however long it sat idle
/// (on a loaded machine the second after a release can pass before the next query).
async fn never_pinging_pool(test_pool: &PgPool) -> PgPool {
    let options = own_options().before_acquire(|_, _| Box::pin(async { Ok(true) }));
    connect(options, test_pool).await
}

async fn connect(options: PgPoolOptions, test_pool: &PgPool) -> PgPool {
    options
        .connect_with((*test_pool.connect_options()).clone())
        .await
        .unwrap()
}

async fn backend_pid(pool: &PgPool) -> sqlx::Result<i32> {
    sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(pool)
        .await
}

/// Waits until the connection's release (sqlx checks it on its way back) is over, so that what
/// happens to its backend next is found by the next user, not by that check.
async fn back_in_the_pool(own: &PgPool) {
    for _ in 0..500 {
        if own.num_idle() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the connection did not come back to the pool");
}

pub(crate) async fn terminate(test_pool: &PgPool, pid: i32) {
    let done: bool = sqlx::query_scalar("select pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(test_pool)
        .await
        .unwrap();
    assert!(done, "backend {pid} did not exit");
}

#[sqlx::test]
async fn a_connection_that_died_while_idle_is_replaced_before_use(pool: PgPool) {
    let own = own_pool(&pool).await;
    let first = backend_pid(&own).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    terminate(&pool, first).await;

    let second = backend_pid(&own)
        .await
        .expect("the dead connection must be noticed before the query");
    assert_ne!(first, second);
}

#[sqlx::test]
async fn the_identity_transaction_begins_on_another_connection_if_its_own_died(pool: PgPool) {
    // A connection handed out without a ping (as within a second of its release): a plain query
    // on it fails and drops it, but beginning the identity transaction, where nothing has run
    // yet, tries once more on a fresh connection.
    let own = never_pinging_pool(&pool).await;
    let first = backend_pid(&own).await.unwrap();
    back_in_the_pool(&own).await;
    terminate(&pool, first).await;
    assert!(backend_pid(&own).await.is_err());

    let second = backend_pid(&own).await.unwrap();
    back_in_the_pool(&own).await;
    terminate(&pool, second).await;
    let mut tx = identity::begin(&own, &Identity::service(), Access::ReadOnly)
        .await
        .expect("begin must retry on a fresh connection");
    let third: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(third != first && third != second);
}

#[sqlx::test]
async fn a_read_ended_without_commit_leaves_the_connection_clean_for_the_next_writer(pool: PgPool) {
    for stmt in [
        "create table public.marks (n int)",
        "grant select, insert on public.marks to service_role",
    ] {
        sqlx::query(stmt).execute(&pool).await.unwrap();
    }
    let own = own_pool(&pool).await;
    for n in 0..3 {
        let mut read = identity::begin(&own, &Identity::service(), Access::ReadOnly)
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar("select count(*) from public.marks")
            .fetch_one(&mut *read)
            .await
            .unwrap();
        assert_eq!(seen, n);
        drop(read);

        // The only connection, with the read's ROLLBACK queued on it: the write must run in a
        // transaction of its own and stay committed.
        let mut write = identity::begin(&own, &Identity::service(), Access::ReadWrite)
            .await
            .unwrap();
        let read_only: String =
            sqlx::query_scalar("select current_setting('transaction_read_only')")
                .fetch_one(&mut *write)
                .await
                .unwrap();
        assert_eq!(read_only, "off");
        sqlx::query("insert into public.marks values ($1)")
            .bind(i32::try_from(n).unwrap())
            .execute(&mut *write)
            .await
            .unwrap();
        write.commit().await.unwrap();
    }
    let total: i64 = sqlx::query_scalar("select count(*) from public.marks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 3);
}
