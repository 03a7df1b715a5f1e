//! Application state, router assembly and the server with graceful shutdown.

use std::{ops::Deref, sync::Arc};

use anyhow::Context;
use axum::{Router, extract::Request};
use object_store::ObjectStore;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    auth::{AuthState, keys},
    config::Config,
    db::{self, Database, api::ApiPool, reads::Reads},
    error::{AppError, AppResult},
    http::{
        self,
        layers::{self, PipelineSettings},
        server,
    },
    jobs, ops,
};

/// Shared state of every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The configuration the process started with.
    pub config: Config,
    /// The owner's pool: `/auth/v1`, jobs, the schema cache — the server's own SQL.
    pub pool: PgPool,
    /// The pool the API's callers' SQL runs on (identity transactions), logged in as
    /// `authenticator`; the owner's pool where that login was refused (see `db::api`).
    pub api_pool: PgPool,
    /// The read path's carried connections (taken from `api_pool`), for identity reads.
    pub reads: Reads,
    /// Carried connections of the owner's pool for `/auth/v1`'s single statements (a login's
    /// lookup, its session insert); the same set as `reads` when both share the owner's pool.
    pub statements: Reads,
    /// The HS256 secret for tokens and API keys.
    pub jwt_secret: SecretString,
    /// Keys and helpers of `/auth/v1`.
    pub auth: AuthState,
    /// The data API's schema cache.
    pub rest: crate::rest::schema::RestState,
    /// Where stored files' bytes are kept (the storage API, the GDPR endpoints and the orphan
    /// sweep share it); `None` when it could not be opened, which makes those 503 while the rest
    /// of the API serves.
    pub objects: Option<Arc<dyn ObjectStore>>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// State for `config` over the owner's `pool`: opens the API's pool beside it (see `db::api`)
    /// and resolves (or generates) the JWT secret.
    pub async fn new(config: Config, pool: PgPool) -> anyhow::Result<Self> {
        let (api_pool, reads, statements) = match db::api::connect(&config, &pool).await? {
            ApiPool::Separate(api) => {
                // It lives as long as the owner's pool: closing that (at shutdown, at the end of a
                // test) closes this one too, so nothing keeps the database in use.
                let (owner, closing) = (pool.clone(), api.clone());
                tokio::spawn(async move {
                    owner.close_event().await;
                    closing.close().await;
                });
                let reads = Reads::new(api.clone());
                (api, reads, Reads::new(pool.clone()))
            }
            ApiPool::Owner => {
                let reads = Reads::new(pool.clone());
                (pool.clone(), reads.clone(), reads)
            }
        };
        let jwt_secret = keys::jwt_secret(&config)?;
        let auth = AuthState::new(&config, &jwt_secret)?;
        let objects = match crate::storage::store::open(&config.storage) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the object store cannot be opened; file storage is unavailable");
                None
            }
        };
        Ok(Self(Arc::new(Inner {
            config,
            pool,
            api_pool,
            reads,
            statements,
            jwt_secret,
            auth,
            rest: Default::default(),
            objects,
        })))
    }

    /// The object store, or 503 when it could not be opened.
    pub fn objects(&self) -> AppResult<Arc<dyn ObjectStore>> {
        self.objects
            .clone()
            .ok_or_else(|| AppError::Unavailable("the object store is unavailable".into()))
    }
}

/// The settings of the request pipeline both listeners share.
fn pipeline_settings(config: &Config) -> PipelineSettings {
    PipelineSettings {
        cors_origins: config.cors_origins.clone(),
        request_timeout: config.request_timeout,
        drain: http::drain::DrainLimits {
            cap: u64::try_from(upload_limit(config)).unwrap_or(u64::MAX),
            // Bounded apart from the request timeout: a drain holds its connection open, and a
            // graceful shutdown waits for open connections.
            wait: config
                .request_timeout
                .min(std::time::Duration::from_secs(10)),
            deadline: config.request_timeout,
        },
    }
}

/// The largest upload body. Uploads stream to the object store under the storage size limit (plus
/// room for multipart framing), not the API body limit; the upload itself enforces the bucket and
/// global limits.
fn upload_limit(config: &Config) -> usize {
    usize::try_from(config.storage.file_size_limit)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20)
        .max(config.max_body_bytes)
}

/// The whole HTTP application: every surface behind the shared pipeline. `/metrics` is among
/// them unless an operations listener (`BIZBASE_ADMIN_ADDR`) serves it instead ([`build_admin_app`]).
pub fn build_app(state: AppState) -> Router {
    let settings = pipeline_settings(&state.config);
    // Make sure the recorder exists before the first request is counted.
    let _ = http::metrics::handle();
    let ops = match state.config.admin_addr {
        Some(_) => ops::probes(),
        None => ops::probes().merge(ops::metrics()),
    };
    let api = Router::new()
        .merge(ops)
        .merge(crate::auth::router(state.clone()))
        .merge(crate::rest::router(state.clone()))
        .merge(crate::integrations::router(state.clone()))
        .merge(crate::ai::http::router(state.clone()))
        .merge(crate::ops::subject::http::router(state.clone()));
    let router = Router::new()
        .merge(layers::limit_body(api, state.config.max_body_bytes))
        .merge(layers::limit_body(
            crate::storage::router(state.clone()),
            upload_limit(&state.config),
        ))
        .fallback(unknown_route)
        .with_state(state);
    layers::apply(router, &settings)
}

/// What the operations listener (`BIZBASE_ADMIN_ADDR`) serves: `/health`, `/ready` and
/// `/metrics`, behind the API's pipeline (request ids, error shapes, time limit) without CORS.
pub fn build_admin_app(state: AppState) -> Router {
    let mut settings = pipeline_settings(&state.config);
    // No browser origin may read it (PostgREST's admin server has no CORS either), and its routes
    // take no bodies.
    settings.cors_origins = crate::config::CorsOrigins::List(Vec::new());
    settings.drain.cap = u64::try_from(state.config.max_body_bytes).unwrap_or(u64::MAX);
    let router = ops::probes()
        .merge(ops::metrics())
        .fallback(unknown_route)
        .with_state(state);
    layers::apply(router, &settings)
}

async fn unknown_route(req: Request) -> AppError {
    AppError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// `bizbase serve`: opens the database (starting the embedded cluster if needed), migrates,
/// serves until SIGINT/SIGTERM, drains in-flight requests, then stops the database.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = Database::open(&config).await?;
    let result = serve_on(&config, &database).await;
    if let Err(e) = database.close().await {
        tracing::error!(error = %format!("{e:#}"), "stopping the database failed");
    }
    result
}

async fn serve_on(config: &Config, database: &Database) -> anyhow::Result<()> {
    if config.migrate_on_start {
        db::migrate(&database.pool).await?;
    } else {
        db::owner::check(&database.pool).await?;
    }
    let state = AppState::new(config.clone(), database.pool.clone()).await?;
    let api_pool = state.api_pool.clone();
    if let Some(hook) = &config.auth.custom_access_token_hook {
        // Every token would fail: say so before the first sign-in does. A check that cannot run
        // (the role missing without migrations, say) only warns too.
        match crate::auth::hooks::uncallable(&database.pool, hook).await {
            Ok(problems) => {
                for problem in problems {
                    tracing::warn!("{problem}");
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot check whether supabase_auth_admin may call the access-token hook"
            ),
        }
    }
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("BIZBASE_ADDR: cannot listen on {}", config.addr))?;
    let admin_listener = match config.admin_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("BIZBASE_ADMIN_ADDR: cannot listen on {addr}"))?,
        ),
        None => None,
    };
    tracing::info!(url = %config.public_url, addr = %config.addr, "bizbase is listening");
    if let Some(addr) = config.admin_addr {
        tracing::info!(%addr, "health, readiness and metrics are served on the operations address");
    }
    let worker = jobs::outbox::spawn(state.clone());
    let cleanup = jobs::auth_cleanup::spawn(state.clone());
    let sentiment = jobs::sentiment::spawn(database.pool.clone(), config.sentiment);
    let retention =
        crate::ops::audit::retention(database.pool.clone(), config.audit_retention_days);
    let sweeper = match &state.objects {
        Some(store) => crate::storage::sweep::sweeper(database.pool.clone(), store.clone()),
        None => crate::jobs::task::Task::idle(),
    };
    let backups = match config.backup.schedule {
        Some(_) => crate::ops::backup::schedule::scheduler(
            config.clone(),
            crate::ops::backup::dump::Connection::of(config, database)?,
        ),
        None => crate::jobs::task::Task::idle(),
    };
    let admin_app = admin_listener.map(|l| (l, build_admin_app(state.clone())));
    let app = build_app(state);
    // One signal stops both listeners.
    let stop = futures_util::FutureExt::shared(shutdown_signal());
    let admin = async {
        if let Some((listener, app)) = admin_app {
            server::serve(listener, app, server::HEAD_TIMEOUT, stop.clone()).await;
        }
    };
    tokio::join!(
        server::serve(listener, app, server::HEAD_TIMEOUT, stop.clone()),
        admin
    );
    tracing::info!("stopped accepting requests; shutting down");
    worker.stop().await;
    cleanup.stop().await;
    sentiment.stop().await;
    retention.stop().await;
    sweeper.stop().await;
    backups.stop().await;
    api_pool.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
}
