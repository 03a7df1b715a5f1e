//! The connections the API's callers' SQL runs on.
//!
//! Requests that run SQL for a caller (the data API, storage, the GDPR endpoints) switch to `anon`,
//! `authenticated` or `service_role` with `SET LOCAL ROLE` — but SQL running as one of those roles
//! may switch back to the connection's login role (`RESET ROLE`). On the owner's connections, a
//! project function with an SQL injection would so reach the owner's rights. Those requests run on
//! a second pool instead, logged in as `authenticator` (migration 0001): it may log in, holds no
//! rights of its own and may switch only to the three API roles — as PostgREST logs in under
//! Supabase. Project SQL then also never shares a connection (and its session settings) with the
//! server's own statements.
//!
//! How that pool logs in:
//! - `BIZBASE_API_DATABASE_URL` when set (with `authenticator`'s password, say); a login that fails
//!   or may not switch to the API roles stops start-up.
//! - Otherwise as `authenticator`, without a password, wherever the owner's pool connects
//!   (`DATABASE_URL`, or the embedded cluster's socket, which trusts local logins). Where PostgreSQL
//!   asks for a password, the API's SQL runs on the owner's pool as before, and start-up says so.

use std::str::FromStr;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{PgPool, postgres::PgConnectOptions};

use crate::config::Config;

/// The login role the data API's connections use unless `BIZBASE_API_DATABASE_URL` names another.
pub const LOGIN_ROLE: &str = "authenticator";

/// Where the API's callers' SQL runs.
#[derive(Debug)]
pub enum ApiPool {
    /// A pool of its own, logged in as a role that may only switch to the API roles.
    Separate(PgPool),
    /// The owner's pool (no separate login was possible; start-up warned).
    Owner,
}

/// Opens the API's pool for `config`, next to the owner's `owner` (see the module docs).
pub async fn connect(config: &Config, owner: &PgPool) -> anyhow::Result<ApiPool> {
    let options = match &config.api_database_url {
        Some(url) => {
            let options = PgConnectOptions::from_str(url.expose_secret())
                .context("BIZBASE_API_DATABASE_URL: not a valid PostgreSQL connection string")?;
            let options = super::connection_settings(options);
            let pool = super::pool_options(config)
                .connect_with(options)
                .await
                .context("BIZBASE_API_DATABASE_URL: cannot connect")?;
            check(&pool).await.context("BIZBASE_API_DATABASE_URL")?;
            return Ok(ApiPool::Separate(pool));
        }
        None => super::connection_settings(
            owner
                .connect_options()
                .as_ref()
                .clone()
                .username(LOGIN_ROLE)
                .password(""),
        ),
    };
    match super::pool_options(config).connect_with(options).await {
        Ok(pool) => {
            check(&pool).await?;
            Ok(ApiPool::Separate(pool))
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "PostgreSQL refused the data API's login as {LOGIN_ROLE}; the API's SQL runs on the \
                 owner's connections, where a caller's SQL can leave its role with RESET ROLE. Set \
                 BIZBASE_API_DATABASE_URL to log in as {LOGIN_ROLE} (README: Database roles)"
            );
            Ok(ApiPool::Owner)
        }
    }
}

/// Refuses a login that cannot switch to every API role; warns about one that could do more than
/// they can (a superuser, or a role that bypasses row-level security).
async fn check(pool: &PgPool) -> anyhow::Result<()> {
    let (login, unrestricted, switches): (String, bool, bool) = sqlx::query_as(
        "select current_user::text, rolsuper or rolbypassrls, \
                pg_has_role(current_user, 'anon', 'MEMBER') \
                and pg_has_role(current_user, 'authenticated', 'MEMBER') \
                and pg_has_role(current_user, 'service_role', 'MEMBER') \
         from pg_roles where rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .context("checking the data API's login role")?;
    anyhow::ensure!(
        switches,
        "{login} may not switch to anon, authenticated and service_role \
         (grant anon, authenticated, service_role to {login})"
    );
    if unrestricted {
        tracing::warn!(
            "the data API logs in as {login}, which is a superuser or bypasses row-level security: \
             a caller's SQL can leave its role with RESET ROLE. Log in as {LOGIN_ROLE} instead \
             (README: Database roles)"
        );
    }
    Ok(())
}
