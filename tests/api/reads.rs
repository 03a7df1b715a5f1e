//! Carried read transactions (`db::reads`): a finished read's transaction stays open on its
//! connection until the next read ends it in the same message as its `BEGIN`, or until the reaper
//! does; a connection that ran single statements outside any transaction comes back clean. These
//! tests check what must never leak or wait because of that.

use std::time::{Duration, Instant};

use bizbase::db::{
    identity::{self, Access, DbRole, Identity, RequestInfo},
    reads::{IDLE, Lease, RECYCLE, Reads},
};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    pool::{own_pool_of, terminate},
    rest::{Rest, USER_1, send},
};

fn user(sub: &str, path: &str) -> Identity {
    let mut who = Identity::new(DbRole::Authenticated, json!({ "sub": sub }));
    who.request = Some(RequestInfo {
        method: "GET".into(),
        path: path.into(),
        headers: json!({ "x-secret-of": sub }),
    });
    who
}

/// What a read on `tx` sees of the identity: role, claims, request headers, backend.
async fn seen(tx: &mut Lease) -> (String, String, Option<String>, i32) {
    sqlx::query_as(
        "select current_user::text, current_setting('request.jwt.claims', true), \
         nullif(current_setting('request.headers', true), ''), pg_backend_pid()",
    )
    .fetch_one(tx.conn().unwrap())
    .await
    .unwrap()
}

async fn backend_pid(tx: &mut Lease) -> i32 {
    sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(tx.conn().unwrap())
        .await
        .unwrap()
}

async fn idle_in_transaction(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity \
         where datname = current_database() and state like 'idle in transaction%'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test]
async fn the_next_read_on_a_carried_connection_sees_only_its_own_identity(pool: PgPool) {
    let own = own_pool_of(&pool, 1).await;
    let reads = Reads::new(own.clone());

    let mut first = reads.begin(&user(USER_1, "/notes")).await.unwrap();
    let (role, claims, headers, pid) = seen(&mut first).await;
    assert_eq!(role, "authenticated");
    assert!(claims.contains(USER_1));
    assert!(headers.unwrap().contains(USER_1));
    first.finish();
    assert_eq!(reads.idle(), 1, "the finished read waits, transaction open");

    // The same connection (one in the pool), another caller without request details: nothing of
    // the first read's settings may remain.
    let mut second = reads
        .begin(&Identity::new(DbRole::Anon, json!({})))
        .await
        .unwrap();
    let (role, claims, headers, again) = seen(&mut second).await;
    assert_eq!(again, pid, "the carried connection was reused");
    assert_eq!(role, "anon");
    assert!(!claims.contains(USER_1), "{claims}");
    assert_eq!(headers, None);
    let read_only: String = sqlx::query_scalar("select current_setting('transaction_read_only')")
        .fetch_one(second.conn().unwrap())
        .await
        .unwrap();
    assert_eq!(read_only, "on");
    second.finish();
}

#[sqlx::test]
async fn the_reaper_ends_idle_reads_so_ddl_does_not_wait(pool: PgPool) {
    let rest = Rest::start(pool.clone()).await;
    let r = send(rest.anon(Method::GET, "/books", &[("select", "id")])).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The read's connection holds ACCESS SHARE on books until its transaction ends; without the
    // reaper this waits for the next read, which never comes, and hits the lock timeout.
    let started = Instant::now();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("set lock_timeout = '3s'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("alter table public.books add column reviewed bool")
        .execute(&mut *conn)
        .await
        .expect("DDL must not wait for a finished read");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(conn);
    until("no connection stays idle in a transaction", async || {
        idle_in_transaction(&pool).await == 0
    })
    .await;
}

#[sqlx::test]
async fn a_failed_read_leaves_the_connection_clean_for_the_next_writer(pool: PgPool) {
    sqlx::query("create table public.marks (n int)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("grant insert on public.marks to service_role")
        .execute(&pool)
        .await
        .unwrap();
    let own = own_pool_of(&pool, 1).await;
    let reads = Reads::new(own.clone());
    let mut read = reads.begin(&Identity::service()).await.unwrap();
    let failed = sqlx::query("select 1 / 0")
        .execute(read.conn().unwrap())
        .await;
    assert!(failed.is_err());
    drop(read);
    assert_eq!(reads.idle(), 0, "a read that failed is not carried");

    // The pool's only connection comes back rolled back: the write runs in its own transaction.
    let mut write = identity::begin(&own, &Identity::service(), Access::ReadWrite)
        .await
        .unwrap();
    sqlx::query("insert into public.marks values (1)")
        .execute(&mut *write)
        .await
        .unwrap();
    write.commit().await.unwrap();
    let n = marks(&pool).await;
    assert_eq!(n, 1);
}

#[sqlx::test]
async fn writes_get_connections_while_reads_run_flat_out(pool: PgPool) {
    let own = own_pool_of(&pool, 4).await;
    let reads = Reads::new(own.clone());
    assert_eq!(
        reads.places(),
        3,
        "a quarter of the pool stays for other work"
    );
    let stop = Instant::now() + Duration::from_secs(2);
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let reads = reads.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < stop {
                    let mut tx = reads.begin(&Identity::service()).await.unwrap();
                    sqlx::query("select pg_sleep(0.002)")
                        .execute(tx.conn().unwrap())
                        .await
                        .unwrap();
                    tx.finish();
                    n += 1;
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut slowest = Duration::ZERO;
    while Instant::now() + Duration::from_millis(300) < stop {
        let asked = Instant::now();
        let tx = identity::begin(&own, &Identity::service(), Access::ReadWrite)
            .await
            .expect("a writer must get a connection while reads run");
        slowest = slowest.max(asked.elapsed());
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut total = 0;
    for r in readers {
        total += r.await.unwrap();
    }
    assert!(total > 50, "reads ran: {total}");
    assert!(
        slowest < Duration::from_millis(500),
        "a writer waited {slowest:?}"
    );
}

#[sqlx::test]
async fn a_carried_connection_that_died_is_replaced(pool: PgPool) {
    let own = own_pool_of(&pool, 1).await;
    let reads = Reads::new(own.clone());
    let mut tx = reads.begin(&Identity::service()).await.unwrap();
    let first = backend_pid(&mut tx).await;
    // Its backend dies before the read is finished, so the dead connection is carried and the
    // next read (at once, long before the reaper could look at it) is the one to find out.
    terminate(&pool, first).await;
    tx.finish();
    assert_eq!(reads.idle(), 1);

    let mut tx = reads
        .begin(&Identity::service())
        .await
        .expect("the begin must retry on a fresh connection");
    let second = backend_pid(&mut tx).await;
    tx.finish();
    assert_ne!(first, second);
}

#[sqlx::test]
async fn carried_connections_go_back_to_the_pool(pool: PgPool) {
    let own = own_pool_of(&pool, 2).await;
    let reads = Reads::new(own.clone());

    // A connection carried for longer than RECYCLE goes back at the end of its read (before
    // that, a finished read is kept: checked at once, long before the reaper could take it).
    let started = Instant::now();
    loop {
        reads.begin(&Identity::service()).await.unwrap().finish();
        if reads.idle() == 0 {
            assert!(started.elapsed() >= RECYCLE, "returned early");
            break;
        }
        assert!(started.elapsed() < RECYCLE * 5, "never recycled");
        tokio::time::sleep(IDLE / 4).await;
    }
    until("the recycled connection is back in the pool", async || {
        own.num_idle() == 1
    })
    .await;

    // Closing the pool does not wait for a carried connection: the reaper returns it.
    reads.begin(&Identity::service()).await.unwrap().finish();
    assert_eq!(reads.idle(), 1);
    tokio::time::timeout(Duration::from_secs(3), own.close())
        .await
        .expect("closing the pool must not wait for carried connections");
    assert_eq!(idle_in_transaction(&pool).await, 0);
}

/// A table `public.marks (n int)`, and a pool of one connection with its carried set.
async fn with_marks(pool: &PgPool) -> (PgPool, Reads) {
    sqlx::query("create table public.marks (n int)")
        .execute(pool)
        .await
        .unwrap();
    let own = own_pool_of(pool, 1).await;
    let reads = Reads::new(own.clone());
    (own, reads)
}

/// How many rows `public.marks` holds, seen from outside the carried set.
async fn marks(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from public.marks")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Whether the backend `pid` is inside a transaction, seen from another connection.
async fn in_transaction(pool: &PgPool, pid: i32) -> bool {
    sqlx::query_scalar(
        "select state like 'idle in transaction%' from pg_stat_activity where pid = $1",
    )
    .bind(pid)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_single_statement_commits_and_its_connection_comes_back_clean(pool: PgPool) {
    let (own, reads) = with_marks(&pool).await;

    let mut lease = reads.autocommit().await.unwrap();
    let pid = backend_pid(&mut lease).await;
    sqlx::query("insert into public.marks values (1)")
        .execute(lease.conn().unwrap())
        .await
        .unwrap();
    lease.finish();
    assert_eq!(
        reads.idle(),
        1,
        "the connection is kept for the next caller"
    );
    assert!(
        !in_transaction(&pool, pid).await,
        "kept outside any transaction"
    );
    let n = marks(&pool).await;
    assert_eq!(n, 1, "the statement committed by itself");

    // The next read begins on it, as its own identity, read only.
    let mut read = reads.begin(&user(USER_1, "/marks")).await.unwrap();
    let (role, claims, _, again) = seen(&mut read).await;
    assert_eq!(again, pid);
    assert_eq!(role, "authenticated");
    assert!(claims.contains(USER_1));
    read.finish();
    assert!(in_transaction(&pool, pid).await, "the read is carried");

    // The reaper hands the clean connection back to the pool too.
    let mut lease = reads.autocommit().await.unwrap();
    assert_eq!(backend_pid(&mut lease).await, pid);
    lease.finish();
    until("the reaper returns the idle connection", async || {
        reads.idle() == 0 && own.num_idle() == 1
    })
    .await;
}

#[sqlx::test]
async fn a_statement_on_a_connection_still_inside_a_read_ends_that_read_first(pool: PgPool) {
    let (_, reads) = with_marks(&pool).await;
    let mut read = reads.begin(&user(USER_1, "/marks")).await.unwrap();
    let pid = backend_pid(&mut read).await;
    read.finish();

    let mut lease = reads.autocommit().await.unwrap();
    assert_eq!(backend_pid(&mut lease).await, pid, "the carried connection");
    let (own_role, claims, read_only): (bool, Option<String>, String) = sqlx::query_as(
        "select current_user = session_user, nullif(current_setting('request.jwt.claims', true), ''), \
         current_setting('transaction_read_only')",
    )
    .fetch_one(lease.conn().unwrap())
    .await
    .unwrap();
    assert!(own_role, "none of the read's identity remains");
    assert_eq!(claims, None);
    assert_eq!(read_only, "off");
    sqlx::query("insert into public.marks values (1)")
        .execute(lease.conn().unwrap())
        .await
        .unwrap();
    lease.finish();
    let n = marks(&pool).await;
    assert_eq!(n, 1);
}

#[sqlx::test]
async fn a_statement_cut_off_half_way_does_not_leave_its_answer_to_the_next(pool: PgPool) {
    let own = own_pool_of(&pool, 1).await;
    let reads = Reads::new(own.clone());
    let mut lease = reads.autocommit().await.unwrap();
    let cut = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query_scalar::<_, i32>("select 7 from pg_sleep(0.5)")
            .fetch_one(lease.conn().unwrap()),
    )
    .await;
    assert!(cut.is_err(), "the statement was cut off");
    drop(lease);
    assert_eq!(reads.idle(), 0, "a lease dropped half-way is not kept");

    // The pool's only connection: its next user gets its own answer, not the cut-off one's.
    let mut next = reads.autocommit().await.unwrap();
    let n: i32 = sqlx::query_scalar("select 1")
        .fetch_one(next.conn().unwrap())
        .await
        .unwrap();
    assert_eq!(n, 1);
    next.finish();
}

#[sqlx::test]
async fn a_transaction_committed_on_a_lease_keeps_it_and_one_left_open_does_not(pool: PgPool) {
    use sqlx::Connection;
    let (own, reads) = with_marks(&pool).await;

    let mut lease = reads.autocommit().await.unwrap();
    let mut tx = lease.conn().unwrap().begin().await.unwrap();
    sqlx::query("insert into public.marks values (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    lease.finish();
    assert_eq!(
        reads.idle(),
        1,
        "committed: the connection is clean and kept"
    );
    assert_eq!(marks(&pool).await, 1);

    // A transaction still open when the lease ends (its guard forgotten, so nothing queued its
    // rollback) is rolled back, and the connection is not kept as clean.
    let mut lease = reads.autocommit().await.unwrap();
    let mut tx = lease.conn().unwrap().begin().await.unwrap();
    sqlx::query("insert into public.marks values (2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    std::mem::forget(tx);
    lease.finish();
    assert_eq!(
        reads.idle(),
        0,
        "a lease left inside a transaction is not kept"
    );
    until("the connection is back in the pool", async || {
        own.num_idle() == 1
    })
    .await;
    assert_eq!(
        marks(&pool).await,
        1,
        "the open transaction was rolled back"
    );
    let mut next = reads.autocommit().await.unwrap();
    sqlx::query("insert into public.marks values (3)")
        .execute(next.conn().unwrap())
        .await
        .unwrap();
    next.finish();
    assert_eq!(
        marks(&pool).await,
        2,
        "the next statement commits by itself"
    );
}
