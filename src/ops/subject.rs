//! Data-subject rights for the operator: `bizbase subject export|erase --email …`. The SQL in
//! `private.subject_export` / `private.subject_erase` decides what refers to the person; erasure
//! then deletes the bytes of the person's files from the object store, after the rows are gone.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{config::Config, storage::store};

/// Every row and file that refers to the person with `email`, within `org` or everywhere.
pub async fn export(pool: &PgPool, email: &str, org: Option<Uuid>) -> sqlx::Result<Value> {
    sqlx::query_scalar("select private.subject_export($1, $2)")
        .bind(email)
        .bind(org)
        .fetch_one(pool)
        .await
}

/// Anonymizes the person (keeping financial records) and deletes their files; returns what was
/// done. Within `org` only that org's records change; without, the account is erased too.
pub async fn erase(
    config: &Config,
    pool: &PgPool,
    email: &str,
    org: Option<Uuid>,
) -> anyhow::Result<Value> {
    let mut tx = pool.begin().await?;
    let done: Value = sqlx::query_scalar("select private.subject_erase($1, $2)")
        .bind(email)
        .bind(org)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let versions: Vec<String> = done["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["version"].as_str().map(str::to_owned))
        .collect();
    if !versions.is_empty() {
        let objects = store::open(&config.storage)?;
        store::forget(objects.as_ref(), versions).await;
    }
    Ok(done)
}
