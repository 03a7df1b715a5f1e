//! Read transactions whose end travels with the next read's beginning, and single statements
//! that need no end at all.
//!
//! A read runs in a `READ ONLY` identity transaction like every other request, but ending it
//! costs nothing: the connection keeps the finished transaction open and goes to a small set of
//! *carried* connections instead of back to the pool. The next read on it sends
//! `ROLLBACK; BEGIN …; SET LOCAL …` as one message, so a read is two round trips (begin, statement)
//! instead of three (begin, statement, and the `ROLLBACK` with the pool's release check). On
//! this machine that is about a sixth less CPU per single-row read (bench/README).
//!
//! A single statement outside any transaction (a login's lookup, its session insert) runs on a
//! carried connection too ([`Reads::autocommit`]): it commits by itself, so the connection goes back
//! to the set clean, without the pool's release check, and the statement is one round trip instead
//! of two. A read that takes a clean connection sends only its `BEGIN …`; a statement that takes one
//! still inside a finished read ends that read first.
//!
//! What keeps this safe:
//! - Rolling back a transaction that could not write loses nothing, and the `ROLLBACK` comes before
//!   anything else the next read sends: no setting of one caller survives into the next.
//! - A carried connection never reaches the pool with its transaction open: it is rolled back
//!   first, and one dropped any other way is closed, not returned.
//! - The carried set holds at most [`Reads::places`] connections (a quarter of the pool, at least
//!   one, stays for writes and jobs), and each goes back to the pool after at most [`RECYCLE`] of
//!   use, so other users never wait on the carried set for long.
//! - A single statement leaves nothing open: it commits or fails by itself. One cut off half-way
//!   is not kept: its connection goes back through the pool's release check, which waits out the
//!   statement's answer before anyone else gets the connection.
//! - A connection left idle inside a finished read holds that read's `ACCESS SHARE` locks, which
//!   would make DDL wait: the reaper rolls back every carried connection idle for [`IDLE`], and all
//!   of them once the pool is closing (so `Pool::close` is not kept waiting).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use sqlx::{AssertSqlSafe, Executor, PgPool, Postgres, pool::PoolConnection};
use tokio::sync::Semaphore;

use super::identity::{Access, Identity, connection_lost};

/// A carried connection idle this long inside its finished read is rolled back and returned to
/// the pool.
pub const IDLE: Duration = Duration::from_millis(100);

/// A connection carried for this long goes back to the pool at the end of its current read.
pub const RECYCLE: Duration = Duration::from_secs(1);

/// The carried connections of the read path; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reads(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    pool: PgPool,
    /// Carried connections waiting for the next read, oldest first.
    idle: Mutex<VecDeque<Idle>>,
    /// One permit per idle carried connection plus one per free place in the carried set: a read
    /// holding one either takes an idle connection or, if none is left, a free place.
    available: Arc<Semaphore>,
    places: usize,
    reaper: std::sync::Once,
}

#[derive(Debug)]
struct Idle {
    conn: Carried,
    since: Instant,
    /// Whether its finished read's transaction is still open (`false`: it ran single statements).
    open: bool,
}

/// A connection of the carried set. Dropped while still holding its connection (its transaction
/// may be open), it closes the connection instead of returning it to the pool.
#[derive(Debug)]
struct Carried {
    conn: Option<PoolConnection<Postgres>>,
    /// When it left the pool.
    taken: Instant,
}

impl Drop for Carried {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            conn.close_on_drop();
        }
    }
}

/// A carried connection lent to one caller: inside a read transaction ([`Reads::begin`]) or
/// outside any ([`Reads::autocommit`]); [`Lease::conn`] runs statements on it. End it with
/// [`Lease::finish`]; dropped otherwise (an error half-way), a read is rolled back and the
/// connection returns to the pool, which checks it (and waits out a statement cut off half-way).
#[derive(Debug)]
pub struct Lease {
    carried: Option<Carried>,
    reads: Reads,
    /// Inside a read transaction (`false`: single statements, each committing by itself).
    read: bool,
}

impl Lease {
    /// The connection, inside the read's transaction or outside any.
    pub fn conn(&mut self) -> Result<&mut sqlx::PgConnection, sqlx::Error> {
        self.carried
            .as_mut()
            .and_then(|c| c.conn.as_deref_mut())
            .ok_or(sqlx::Error::PoolClosed)
    }

    /// Ends the lease: the connection waits (a read's transaction open) for the next caller, or
    /// the reaper. An autocommit lease whose connection is still inside a transaction is rolled
    /// back and returned to the pool instead: only clean connections are kept as clean.
    pub fn finish(mut self) {
        if let Some(carried) = self.carried.take() {
            let left_open = !self.read
                && carried
                    .conn
                    .as_ref()
                    .is_some_and(|c| sqlx::Connection::is_in_transaction(&**c));
            if left_open || carried.taken.elapsed() >= RECYCLE {
                self.reads.0.retire(carried, self.read || left_open);
                return;
            }
            self.reads.0.park(carried, self.read);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(carried) = self.carried.take() {
            self.reads.0.retire(carried, self.read);
        }
    }
}

impl Reads {
    /// The read path over `pool`, carrying up to three quarters of its connections.
    pub fn new(pool: PgPool) -> Self {
        let max = pool.options().get_max_connections() as usize;
        let places = max.saturating_sub((max / 4).max(1)).max(1);
        Self(Arc::new(Shared {
            pool,
            idle: Mutex::default(),
            available: Arc::new(Semaphore::new(places)),
            places,
            reaper: std::sync::Once::new(),
        }))
    }

    /// How many connections the carried set may hold.
    pub fn places(&self) -> usize {
        self.0.places
    }

    /// How many carried connections wait for the next caller right now.
    pub fn idle(&self) -> usize {
        self.0.idle.lock().map_or(0, |idle| idle.len())
    }

    /// Begins a `READ ONLY` transaction as `identity`, ending the connection's previous read in
    /// the same message. A connection found dead is dropped and the begin tried once more.
    pub async fn begin(&self, identity: &Identity) -> Result<Lease, sqlx::Error> {
        let begin = identity.begin_sql(Access::ReadOnly);
        self.lend(true, |open| {
            Some(if open {
                format!("ROLLBACK; {begin}")
            } else {
                begin.clone()
            })
        })
        .await
    }

    /// A carried connection outside any transaction, for statements that commit by themselves or
    /// a transaction begun with [`sqlx::Connection::begin`] and ended before [`Lease::finish`]
    /// (one left open is rolled back then). One still inside a finished read is rolled back
    /// first; one found dead then is dropped and another taken, once.
    pub async fn autocommit(&self) -> Result<Lease, sqlx::Error> {
        self.lend(false, |open| open.then(|| "ROLLBACK".to_owned()))
            .await
    }

    /// Takes a carried connection, sends it `first(open)` (if any) and lends it, inside a `read`
    /// or not. A connection found dead by that first message is dropped and another taken, once.
    async fn lend(
        &self,
        read: bool,
        first: impl Fn(bool) -> Option<String>,
    ) -> Result<Lease, sqlx::Error> {
        self.0.start_reaper(Arc::downgrade(&self.0));
        let mut retried = false;
        loop {
            let (mut carried, open) = self.0.take().await?;
            let Some(sql) = first(open) else {
                return Ok(self.lease(carried, read));
            };
            let Some(conn) = carried.conn.as_mut() else {
                return Err(sqlx::Error::PoolClosed);
            };
            match conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await {
                Ok(_) => return Ok(self.lease(carried, read)),
                Err(e) if !retried && connection_lost(&e) => {
                    tracing::info!(error = %e, "carried connection was dead; taking another");
                    self.0.discard(carried);
                    retried = true;
                }
                Err(e) => {
                    self.0.retire(carried, true);
                    return Err(e);
                }
            }
        }
    }

    fn lease(&self, carried: Carried, read: bool) -> Lease {
        Lease {
            carried: Some(carried),
            reads: self.clone(),
            read,
        }
    }
}

impl Shared {
    /// An idle carried connection (with whether its finished read's transaction is still open), or
    /// a fresh one from the pool in a free place (`false`); waits (as long as the pool's acquire timeout)
    /// while every place is busy.
    async fn take(&self) -> Result<(Carried, bool), sqlx::Error> {
        let wait = self.pool.options().get_acquire_timeout();
        match tokio::time::timeout(wait, self.available.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        }
        if let Some(idle) = self.idle.lock().ok().and_then(|mut idle| idle.pop_back()) {
            return Ok((idle.conn, idle.open));
        }
        match self.pool.acquire().await {
            Ok(conn) => Ok((
                Carried {
                    conn: Some(conn),
                    taken: Instant::now(),
                },
                false,
            )),
            Err(e) => {
                self.available.add_permits(1);
                Err(e)
            }
        }
    }

    /// Keeps `carried` (inside a finished read if `open`) for the next caller.
    fn park(&self, carried: Carried, open: bool) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push_back(Idle {
                conn: carried,
                since: Instant::now(),
                open,
            });
            drop(idle);
            self.available.add_permits(1);
        } else {
            self.retire(carried, open);
        }
    }

    /// Rolls `carried` back if `open` and returns it to the pool (closes it if that fails), then
    /// frees its place. The pool's release check waits out a statement cut off half-way.
    fn retire(&self, mut carried: Carried, open: bool) {
        let available = self.available.clone();
        let Some(mut conn) = carried.conn.take() else {
            available.add_permits(1);
            return;
        };
        tokio::spawn(async move {
            if open && conn.execute(sqlx::raw_sql("ROLLBACK")).await.is_err() {
                conn.close_on_drop();
            }
            drop(conn);
            available.add_permits(1);
        });
    }

    /// Closes `carried` (found dead) and frees its place.
    fn discard(&self, carried: Carried) {
        drop(carried);
        self.available.add_permits(1);
    }

    /// Retires the idle connections idle for at least `age`, oldest first.
    fn reap(&self, age: Duration) {
        loop {
            let Ok(permit) = self.available.try_acquire() else {
                return;
            };
            let oldest = self.idle.lock().ok().and_then(|mut idle| {
                idle.front()
                    .is_some_and(|o| o.since.elapsed() >= age)
                    .then(|| idle.pop_front())
                    .flatten()
            });
            match oldest {
                Some(old) => {
                    permit.forget();
                    self.retire(old.conn, old.open);
                }
                None => return,
            }
        }
    }

    fn start_reaper(&self, this: Weak<Self>) {
        self.reaper.call_once(|| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(IDLE / 2);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(shared) = this.upgrade() else { return };
                    let age = if shared.pool.is_closed() {
                        Duration::ZERO
                    } else {
                        IDLE
                    };
                    shared.reap(age);
                }
            });
        });
    }
}
