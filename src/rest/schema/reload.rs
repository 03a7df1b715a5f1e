//! The cache in use, swapped whole on reload, and the listener that reloads it on `NOTIFY pgrst`.

use std::sync::Arc;

use sqlx::PgPool;

use super::SchemaCache;

/// The current cache, replaced whole on reload.
#[derive(Debug, Default)]
pub struct CacheHandle(std::sync::RwLock<Arc<SchemaCache>>);

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
                        let payload = n.payload();
                        if (payload.is_empty()
                            || payload == "reload schema"
                            || payload == "reload config")
                            && let Err(e) = handle.reload(pool, schemas).await
                        {
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

    /// Reloads now (after migrations).
    pub async fn reload(&self, pool: &PgPool, schemas: &[String]) -> sqlx::Result<()> {
        self.cache.reload(pool, schemas).await
    }
}
