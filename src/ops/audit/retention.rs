//! Retention: pruning both audit trails past the configured age, and the task that does it hourly.

use std::time::Duration;

use sqlx::PgPool;

use crate::jobs::task::Task;

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Entries of the business audit log (`private.audit_log`, whole chain prefixes).
    pub business: i64,
    /// Auth events (`auth.audit_log_entries`: sign-ins and the like, with IP and user agent).
    pub auth: i64,
}

impl Pruned {
    /// Entries removed in all.
    pub fn total(self) -> i64 {
        self.business + self.auth
    }
}

/// Removes the entries of both audit trails older than `days` days: the business log's whole
/// chain prefixes (anchored so what stays still verifies) and the auth events.
pub async fn prune(pool: &PgPool, days: u32) -> sqlx::Result<Pruned> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let business = sqlx::query_scalar("select private.audit_prune(make_interval(days => $1))")
        .bind(days)
        .fetch_one(pool)
        .await?;
    let auth = sqlx::query(
        "delete from auth.audit_log_entries where created_at < now() - make_interval(days => $1)",
    )
    .bind(days)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Pruned {
        business,
        auth: i64::try_from(auth).unwrap_or(i64::MAX),
    })
}

/// The retention task inside `serve`: prunes once an hour while a retention is configured.
pub fn retention(pool: PgPool, days: Option<u32>) -> Task {
    let Some(days) = days else {
        return Task::idle();
    };
    Task::spawn(|mut stopped| async move {
        loop {
            match prune(&pool, days).await {
                Ok(n) if n.total() == 0 => {}
                Ok(n) => tracing::info!(
                    business = n.business,
                    auth = n.auth,
                    days,
                    "audit retention pruned entries"
                ),
                Err(e) => tracing::warn!(error = %e, "audit retention failed; retrying later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stopped.changed() => return,
            }
        }
    })
}
