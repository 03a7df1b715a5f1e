//! Clears, once an hour, what the auth flows leave behind once it can no longer be used: e-mailed
//! tokens past `BIZBASE_AUTH_OTP_EXP_SECS`, PKCE flows that can no longer complete (their link and
//! then their code expired), MFA challenges older than a day (they expire after five minutes), and
//! sessions the configured time-box or inactivity timeout has ended. Nothing here changes what a
//! request may do — each of these is refused when used anyway — it keeps the tables small and the
//! session lists (`rpc('my_sessions')`) true.

use std::time::Duration;

use sqlx::PgPool;

use super::task::Task;
use crate::{app::AppState, config::auth::AuthConfig};

/// How many rows one sweep removed, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Expired e-mailed tokens.
    pub tokens: u64,
    /// PKCE flows that can no longer complete.
    pub flows: u64,
    /// Old MFA challenges.
    pub challenges: u64,
    /// Sessions ended by the time-box or the inactivity timeout.
    pub sessions: u64,
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

/// Removes what can no longer be used (see the module).
pub async fn sweep(pool: &PgPool, auth: &AuthConfig) -> sqlx::Result<Swept> {
    let tokens = sqlx::query(
        "delete from auth.one_time_tokens where created_at < now() - make_interval(secs => $1)",
    )
    .bind(auth.otp_exp.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected();
    let flows = sqlx::query(
        "delete from auth.flow_state where created_at < now() - make_interval(secs => $1)",
    )
    .bind((auth.otp_exp + auth.flow_state_exp).as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected();
    let challenges =
        sqlx::query("delete from auth.mfa_challenges where created_at < now() - interval '1 day'")
            .execute(pool)
            .await?
            .rows_affected();
    let sessions = sqlx::query(
        "delete from auth.sessions where not_after < now() \
         or ($1::float8 is not null and created_at < now() - make_interval(secs => $1)) \
         or ($2::float8 is not null and coalesce(refreshed_at, created_at) < now() - make_interval(secs => $2))",
    )
    .bind(secs(auth.sessions.timebox))
    .bind(secs(auth.sessions.inactivity_timeout))
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Swept {
        tokens,
        flows,
        challenges,
        sessions,
    })
}

/// The sweeping task inside `serve`: at start, then once an hour. It also lets the rate limiters
/// forget the buckets that have filled up again (each client's keys would otherwise stay).
pub fn spawn(state: AppState) -> Task {
    Task::spawn(|mut stopped| async move {
        loop {
            state.auth.limits.forget_idle();
            match sweep(&state.pool, &state.config.auth).await {
                Ok(swept) if swept == Swept::default() => {}
                Ok(swept) => tracing::info!(?swept, "auth cleanup removed unusable rows"),
                Err(e) => tracing::warn!(error = %e, "auth cleanup failed; retrying later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stopped.changed() => return,
            }
        }
    })
}
