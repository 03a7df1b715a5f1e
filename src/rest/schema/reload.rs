//! The cache in use, swapped whole on reload, and the listener that reloads it on `NOTIFY pgrst`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;

use super::SchemaCache;

/// The current cache, replaced whole on reload, and how many times it was loaded.
#[derive(Debug, Default)]
pub struct CacheHandle(std::sync::RwLock<Arc<SchemaCache>>, AtomicU64);

impl CacheHandle {
    /// The cache as of now (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<SchemaCache> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the cache.
    pub fn set(&self, cache: SchemaCache) {
        let cache = Arc::new(cache);
        match self.0.write() {
            Ok(mut g) => *g = cache,
            Err(poisoned) => *poisoned.into_inner() = cache,
        }
        self.1.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times a cache was put in place since start.
    pub fn loads(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    /// Reloads from the database.
    pub async fn reload(&self, pool: &PgPool, schemas: &[String]) -> sqlx::Result<()> {
        let cache = SchemaCache::load(pool, schemas).await?;
        tracing::info!(
            tables = cache.tables.len(),
            functions = cache.functions.len(),
            "schema cache loaded"
        );
        self.set(cache);
        Ok(())
    }
}

/// Listens for `NOTIFY pgrst, 'reload schema'` and reloads; reconnects when the connection drops,
/// and stops when `pool` closes.
pub fn spawn_listener(
    pool: PgPool,
    handle: Arc<CacheHandle>,
    schemas: Vec<String>,
) -> tokio::task::JoinHandle<()> {
    // A pool of its own: the listener holds its connection for good, and the main pool must be
    // able to close (at shutdown) without waiting for it.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    tokio::spawn(async move {
        tokio::select! {
            () = pool.close_event() => {}
            () = listen(&own, &pool, &handle, &schemas) => {}
        }
        // Nothing may keep the database in use once the main pool is closed (a shutdown, or
        // `DROP DATABASE` after a test).
        own.close().await;
    })
}

/// The listener's loop (see [`spawn_listener`]); never returns.
async fn listen(own: &PgPool, pool: &PgPool, handle: &CacheHandle, schemas: &[String]) {
    loop {
        match sqlx::postgres::PgListener::connect_with(own).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen("pgrst").await {
                    tracing::warn!(error = %e, "LISTEN pgrst failed");
                } else {
                    // Anything may have changed while we were not listening.
                    let _ = handle.reload(pool, schemas).await;
                    while let Ok(n) = listener.recv().await {
                        if !asks_reload(n.payload()) {
                            continue;
                        }
                        settle(&mut listener).await;
                        if let Err(e) = handle.reload(pool, schemas).await {
                            tracing::warn!(error = %e, "schema cache reload failed; keeping the previous one");
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "schema listener cannot connect; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Whether a `pgrst` notification's payload asks for a reload (PostgREST's payloads; empty = schema).
fn asks_reload(payload: &str) -> bool {
    matches!(payload, "" | "reload schema" | "reload config")
}

/// How long the channel must stay quiet before a reload, and the longest a burst may defer it.
const QUIET: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_DEFER: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits until no notification has come for [`QUIET`] (at most [`MAX_DEFER`]), so that a burst —
/// a script of DDL statements, each notifying through the event triggers of migration 0050 —
/// costs one reload, not one per statement. An error on the connection ends the wait: the reload
/// reads through the main pool.
async fn settle(listener: &mut sqlx::postgres::PgListener) {
    let until = tokio::time::Instant::now() + MAX_DEFER;
    loop {
        let wait = QUIET.min(until.saturating_duration_since(tokio::time::Instant::now()));
        if wait.is_zero() || !matches!(tokio::time::timeout(wait, listener.recv()).await, Ok(Ok(_)))
        {
            return;
        }
    }
}

/// The data API's state: the cache, loaded on first use, and kept fresh by a NOTIFY listener.
#[derive(Debug, Default)]
pub struct RestState {
    cache: Arc<CacheHandle>,
    started: tokio::sync::OnceCell<()>,
}

impl RestState {
    /// The current cache.
    pub fn get(&self) -> Arc<SchemaCache> {
        self.cache.get()
    }

    /// Loads the cache and starts the reload listener the first time it is called.
    pub async fn ensure_loaded(&self, pool: &PgPool, schemas: &[String]) -> sqlx::Result<()> {
        self.started
            .get_or_try_init(|| async {
                self.cache.reload(pool, schemas).await?;
                spawn_listener(pool.clone(), self.cache.clone(), schemas.to_vec());
                Ok::<(), sqlx::Error>(())
            })
            .await?;
        Ok(())
    }

    /// How many times the cache was loaded since start (the first load included).
    pub fn loads(&self) -> u64 {
        self.cache.loads()
    }

    /// Reloads now (after migrations).
    pub async fn reload(&self, pool: &PgPool, schemas: &[String]) -> sqlx::Result<()> {
        self.cache.reload(pool, schemas).await
    }
}
