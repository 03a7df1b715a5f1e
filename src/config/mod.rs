//! Typed configuration: `BIZBASE_*` environment variables (plus `DATABASE_URL`) over an optional TOML
//! file over defaults. Every value is validated at start-up, and an error names the variable (or the
//! file key) that was wrong, so a bad deploy fails at once instead of on the first request.

pub mod auth;
pub mod backup;
mod source;
pub mod storage;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use auth::AuthConfig;
pub use backup::BackupConfig;
use secrecy::SecretString;
pub use source::{ConfigError, Sources};
pub use storage::StorageConfig;

/// The log filter when `BIZBASE_LOG` is unset: informative, without sqlx's notices ("relation
/// already exists, skipping") that migrations produce on every start.
pub const DEFAULT_LOG: &str = "info,sqlx::postgres::notice=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Which origins browsers may call the API from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin (`*`): the API authenticates with bearer tokens, never cookies.
    Any,
    /// Only these exact origins.
    List(Vec<String>),
}

/// The whole configuration of one bizbase process.
///
/// Secrets are [`SecretString`]s, so `Debug` never prints them.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server binds (`BIZBASE_ADDR`).
    pub addr: SocketAddr,
    /// Address of the operations listener (`BIZBASE_ADMIN_ADDR`): when set, `/health`, `/ready`
    /// and `/metrics` are served there, and `/metrics` no longer on [`Config::addr`].
    pub admin_addr: Option<SocketAddr>,
    /// Base URL clients use to reach this server (`BIZBASE_PUBLIC_URL`); defaults to `http://<addr>`.
    pub public_url: String,
    /// Directory for the embedded database, the generated JWT secret and local files (`BIZBASE_DATA_DIR`).
    pub data_dir: PathBuf,
    /// External PostgreSQL (`DATABASE_URL`); when absent bizbase runs its own cluster in the data dir.
    pub database_url: Option<SecretString>,
    /// How the data API logs in (`BIZBASE_API_DATABASE_URL`): as `authenticator`, which may only
    /// switch to the API roles. When absent, `DATABASE_URL` (or the embedded cluster) as
    /// `authenticator` without a password; see `db::api`.
    pub api_database_url: Option<SecretString>,
    /// Directory holding `initdb`, `pg_ctl`, `postgres` (`BIZBASE_PG_BIN_DIR`); searched for when absent.
    pub pg_bin_dir: Option<PathBuf>,
    /// Maximum connections in the database pool (`BIZBASE_DB_POOL_MAX`); by default
    /// [`default_pool_max`].
    pub db_pool_max: u32,
    /// Run pending migrations when `serve` starts (`BIZBASE_MIGRATE`).
    pub migrate_on_start: bool,
    /// HS256 secret for tokens (`BIZBASE_JWT_SECRET`); generated and kept in the data dir when absent.
    pub jwt_secret: Option<SecretString>,
    /// `tracing` filter directives (`BIZBASE_LOG`).
    pub log: String,
    /// Log line format (`BIZBASE_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Allowed browser origins (`BIZBASE_CORS_ORIGINS`, comma-separated, `*` for any).
    pub cors_origins: CorsOrigins,
    /// Largest request body accepted, in bytes (`BIZBASE_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered with 504 (`BIZBASE_REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// Identity settings.
    pub auth: AuthConfig,
    /// Audit entries older than this many days are pruned (`BIZBASE_AUDIT_RETENTION_DAYS`;
    /// unset: kept forever).
    pub audit_retention_days: Option<u32>,
    /// Score the sentiment of customer messages in the background (`BIZBASE_SENTIMENT`, default
    /// on).
    pub sentiment: bool,
    /// Data API settings.
    pub rest: RestConfig,
    /// Storage settings.
    pub storage: StorageConfig,
    /// Backup settings.
    pub backup: BackupConfig,
}

/// Settings of `/rest/v1`.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Exposed schemas, the first is the default (`BIZBASE_REST_SCHEMAS`, comma-separated).
    pub schemas: Vec<String>,
    /// Most rows one read returns (`BIZBASE_REST_MAX_ROWS`).
    pub max_rows: i64,
    /// Most rows an update or delete without filters may touch (`BIZBASE_REST_MAX_UNFILTERED_AFFECTED`).
    pub max_unfiltered_affected: u64,
    /// Statement timeout of data-API transactions (`BIZBASE_REST_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout_ms: Option<u64>,
    /// Longest accepted query string (`BIZBASE_REST_MAX_QUERY_BYTES`).
    pub max_query_bytes: usize,
}

impl Config {
    /// Reads the configuration from the process environment and, if given, a TOML file.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let sources = Sources::from_process(file)?;
        Self::from_sources(&sources)
    }

    /// Builds the configuration from explicit sources (tests pass their own environment).
    pub fn from_sources(src: &Sources) -> Result<Self, ConfigError> {
        let addr: SocketAddr = src.parsed("ADDR")?.unwrap_or(([127, 0, 0, 1], 8080).into());
        let admin_addr: Option<SocketAddr> = src.parsed("ADMIN_ADDR")?;
        if admin_addr.is_some_and(|a| a.port() == addr.port() && a.port() != 0) {
            return Err(src.error_for(
                "ADMIN_ADDR",
                "must not share BIZBASE_ADDR's port: the operations listener is a second one",
            ));
        }
        let public_url = match src.get("PUBLIC_URL") {
            Some(v) => parse_public_url(&v.value).map_err(|m| v.error(m))?,
            None => format!("http://{addr}"),
        };
        let log = src
            .get("LOG")
            .map_or_else(|| DEFAULT_LOG.to_owned(), |v| v.value.clone());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(src.error_for("LOG", &format!("not a valid log filter: {e}")));
        }
        let log_format = match src.get("LOG_FORMAT") {
            None => LogFormat::Pretty,
            Some(v) => match v.value.as_str() {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => return Err(v.error("must be `pretty` or `json`")),
            },
        };
        let jwt_secret = match src.get("JWT_SECRET") {
            Some(v) if v.value.len() < 32 => {
                return Err(v.error("must be at least 32 characters long"));
            }
            Some(v) => Some(SecretString::from(v.value.clone())),
            None => None,
        };
        let database_url = postgres_url(src, "DATABASE_URL")?;
        let api_database_url = postgres_url(src, "API_DATABASE_URL")?;
        let db_pool_max: u32 = src.parsed("DB_POOL_MAX")?.unwrap_or_else(default_pool_max);
        if db_pool_max == 0 {
            return Err(src.error_for("DB_POOL_MAX", "must be at least 1"));
        }
        let timeout_secs: u64 = src.parsed("REQUEST_TIMEOUT_SECS")?.unwrap_or(30);
        if timeout_secs == 0 {
            return Err(src.error_for("REQUEST_TIMEOUT_SECS", "must be at least 1"));
        }
        let auth = AuthConfig::from_sources(src, &public_url)?;
        let schemas: Vec<String> = src.get("REST_SCHEMAS").map_or_else(
            || vec!["public".to_owned()],
            |v| {
                v.value
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            },
        );
        if schemas
            .iter()
            .any(|s| ["auth", "private", "pg_catalog", "information_schema"].contains(&s.as_str()))
        {
            return Err(src.error_for(
                "REST_SCHEMAS",
                "auth, private and the system schemas cannot be exposed",
            ));
        }
        let rest = RestConfig {
            schemas,
            max_rows: src.parsed("REST_MAX_ROWS")?.unwrap_or(1000),
            max_unfiltered_affected: src.parsed("REST_MAX_UNFILTERED_AFFECTED")?.unwrap_or(1000),
            statement_timeout_ms: Some(src.parsed("REST_STATEMENT_TIMEOUT_MS")?.unwrap_or(8000))
                .filter(|ms| *ms > 0),
            max_query_bytes: src.parsed("REST_MAX_QUERY_BYTES")?.unwrap_or(16 * 1024),
        };
        let audit_retention_days = src.parsed("AUDIT_RETENTION_DAYS")?.filter(|d: &u32| *d > 0);
        let data_dir = src
            .get("DATA_DIR")
            .map_or_else(|| PathBuf::from("./data"), |v| PathBuf::from(&v.value));
        let storage = StorageConfig::from_sources(src, &data_dir)?;
        let backup = BackupConfig::from_sources(src, &data_dir)?;
        Ok(Self {
            auth,
            rest,
            storage,
            backup,
            audit_retention_days,
            addr,
            admin_addr,
            public_url,
            data_dir,
            database_url,
            api_database_url,
            pg_bin_dir: src.get("PG_BIN_DIR").map(|v| PathBuf::from(&v.value)),
            db_pool_max,
            migrate_on_start: src.parsed_bool("MIGRATE")?.unwrap_or(true),
            sentiment: src.parsed_bool("SENTIMENT")?.unwrap_or(true),
            jwt_secret,
            log,
            log_format,
            cors_origins: parse_origins(src.get("CORS_ORIGINS").map(|v| v.value.as_str())),
            max_body_bytes: src.parsed("MAX_BODY_BYTES")?.unwrap_or(10 * 1024 * 1024),
            request_timeout: Duration::from_secs(timeout_secs),
        })
    }
}

/// A PostgreSQL connection string, kept secret (it may hold a password).
fn postgres_url(src: &Sources, key: &str) -> Result<Option<SecretString>, ConfigError> {
    match src.get(key) {
        Some(v) if !v.value.starts_with("postgres://") && !v.value.starts_with("postgresql://") => {
            Err(v.error("must start with postgres:// or postgresql://"))
        }
        Some(v) => Ok(Some(SecretString::from(v.value.clone()))),
        None => Ok(None),
    }
}

pub(crate) fn parse_public_url(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("must name a host");
    }
    Ok(trimmed.to_owned())
}

fn parse_origins(value: Option<&str>) -> CorsOrigins {
    match value.map(str::trim) {
        None | Some("") | Some("*") => CorsOrigins::Any,
        Some(list) => CorsOrigins::List(
            list.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;

/// The default pool size: two connections per core plus two. More connections than PostgreSQL can
/// run at once only make its backends take turns: on two cores, a pool of 32 gave the data API's
/// page of 50 rows a p99 of 53–64 ms at 32 clients, a pool of 6 gave 16–20 ms at the same or better
/// throughput (bench/README). Requests wait for a connection in the pool instead, in order.
pub fn default_pool_max() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    u32::try_from(2 * cores + 2).unwrap_or(u32::MAX)
}
