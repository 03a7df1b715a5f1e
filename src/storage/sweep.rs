//! The orphan sweep: deletes blobs no `storage.objects` row points at.
//!
//! Requests delete a blob right after the row that pointed at it is gone, but some blobs lose
//! their row another way: the loser of two concurrent upserts of the same new name, a process
//! that died between committing a delete and removing the bytes, rows deleted by SQL (an
//! erasure through `rpc('subject_erase')`, `delete from storage.objects`). The sweep lists the
//! store and removes every blob older than a grace period (so an upload whose row is about to be
//! committed is never touched) whose version no row names. `serve` runs it hourly.

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use sqlx::PgPool;

use super::store::location;
use crate::jobs::task::Task;

/// Blobs younger than this are left alone (an upload writes its blob before its row commits).
pub const GRACE: Duration = Duration::from_secs(3600);

/// Versions checked against the database per statement.
const BATCH: usize = 500;

/// The version a blob's location holds (`ab/ab12…` → `ab12…`), if it is one of ours.
fn version_of(location: &Path) -> Option<String> {
    let mut parts = location.parts();
    let fan = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() || !version.as_ref().starts_with(fan.as_ref()) {
        return None;
    }
    uuid::Uuid::parse_str(version.as_ref()).ok()?;
    Some(version.as_ref().to_owned())
}

/// Deletes the blobs older than `grace` that no row of `storage.objects` names; returns how many.
pub async fn sweep(pool: &PgPool, store: &dyn ObjectStore, grace: Duration) -> anyhow::Result<u64> {
    let cutoff = Utc::now() - chrono::Duration::from_std(grace)?;
    let mut listing = store.list(None);
    let mut batch = Vec::with_capacity(BATCH);
    let mut removed = 0;
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        if meta.last_modified > cutoff {
            continue;
        }
        if let Some(version) = version_of(&meta.location) {
            batch.push(version);
        }
        if batch.len() == BATCH {
            removed += remove_unreferenced(pool, store, std::mem::take(&mut batch)).await?;
        }
    }
    removed += remove_unreferenced(pool, store, batch).await?;
    Ok(removed)
}

async fn remove_unreferenced(
    pool: &PgPool,
    store: &dyn ObjectStore,
    versions: Vec<String>,
) -> anyhow::Result<u64> {
    if versions.is_empty() {
        return Ok(0);
    }
    let orphans: Vec<String> = sqlx::query_scalar(
        "select v from unnest($1::text[]) v \
         where not exists (select 1 from storage.objects o where o.version = v)",
    )
    .bind(&versions)
    .fetch_all(pool)
    .await?;
    let mut removed = 0;
    for version in orphans {
        match store.delete(&location(&version)).await {
            Ok(()) => removed += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}

/// The sweep inside `serve`: once an hour, the first a minute after start.
pub fn sweeper(pool: PgPool, store: std::sync::Arc<dyn ObjectStore>) -> Task {
    Task::spawn(|mut stopped| async move {
        let mut wait = Duration::from_secs(60);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            wait = Duration::from_secs(3600);
            match sweep(&pool, store.as_ref(), GRACE).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "storage sweep removed orphan blobs"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "storage sweep failed; retrying later")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{Path, version_of};

    #[test]
    fn only_fanned_out_version_locations_are_blobs() {
        let v = "81e503b0-c6fd-4f4f-beaa-6771541262b6";
        assert_eq!(
            version_of(&Path::from(format!("81/{v}"))),
            Some(v.to_owned())
        );
        assert_eq!(version_of(&Path::from(format!("82/{v}"))), None);
        assert_eq!(version_of(&Path::from(v)), None);
        assert_eq!(version_of(&Path::from(format!("81/{v}/x"))), None);
        assert_eq!(version_of(&Path::from("81/81-not-a-uuid")), None);
    }
}
