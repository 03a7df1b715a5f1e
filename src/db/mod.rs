//! The database: connection pool, migrations, the embedded PostgreSQL supervisor and the
//! identity transaction.

pub mod api;
pub mod embedded;
pub mod identity;
mod migrations;
pub mod owner;
pub mod reads;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, Connection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::Config;
pub use embedded::EmbeddedPostgres;
pub use migrations::{MIGRATOR, REVISED, migrate, migrations_pending};

/// The database bizbase runs on: a pool and, in embedded mode, the cluster it supervises.
#[derive(Debug)]
pub struct Database {
    /// The connection pool.
    pub pool: PgPool,
    /// The cluster bizbase started itself, if any; stopped by [`Database::close`].
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster in the data dir and connects to it.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        let (options, embedded) = match &config.database_url {
            Some(url) => {
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .context("DATABASE_URL: not a valid PostgreSQL connection string")?;
                (options, None)
            }
            None => {
                let pg = EmbeddedPostgres::new(&config.data_dir, config.pg_bin_dir.as_deref())?;
                pg.start().await?;
                (pg.connect_options(), Some(pg))
            }
        };
        let options = connection_settings(options);
        let pool = pool_options(config)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", describe(&options)))?;
        Ok(Self { pool, embedded })
    }

    /// Closes the pool and stops the embedded cluster, if bizbase started one.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await?;
        }
        Ok(())
    }
}

/// A pooled connection idle for longer than this is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pool settings: bounded waits so an unavailable database turns into a quick 503.
///
/// sqlx proves every connection alive when it returns to the pool (a `Sync` round trip), so one
/// handed out again within [`PING_AFTER_IDLE`] is used without another round trip; one that sat
/// idle longer (through a database restart, say) is pinged first and replaced if dead.
pub fn pool_options(config: &Config) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.db_pool_max)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// `options` as bizbase's pools connect:
/// - PostgreSQL's JIT compilation off for the session. JIT compiles a costly plan before running
///   it, and that compilation cannot be interrupted: a data-API read with a few hundred embeds (one
///   request, any signed-in caller) compiled for close to a minute past its 8 s
///   `statement_timeout` and the request's own timeout. Short OLTP statements gain nothing from it.
/// - Each statement's text logged at TRACE, not sqlx's DEBUG: the statement that begins a caller's
///   transaction carries their claims (address, organizations) and request headers as literals,
///   which `BIZBASE_LOG=debug` must not write out (docs/LOGGING.md). Slow statements are still
///   logged at WARN.
pub fn connection_settings(options: PgConnectOptions) -> PgConnectOptions {
    options
        .options([("jit", "off")])
        .log_statements(log::LevelFilter::Trace)
}

/// Where a connection goes, without credentials (for messages and logs).
fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{} database {}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default)")
    )
}
