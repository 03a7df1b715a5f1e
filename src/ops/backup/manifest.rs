//! The manifest: what an archive holds and how to check it — the dump's and every blob's SHA-256
//! and size, and the row count of every table, all read in the snapshot the dump was taken from.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// The archive entry holding the `pg_dump --format=custom` output.
pub const DUMP_ENTRY: &str = "database.dump";
/// The archive entry holding the manifest (the last one).
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// The schemas whose tables are counted (and so compared by `backup verify`).
pub const SCHEMAS: &[&str] = &["public", "auth", "storage", "private"];

/// The archive entry holding the blob of `version`.
pub fn blob_entry(version: &str) -> String {
    format!("blobs/{version}")
}

/// What one archive holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of the archive (1).
    pub format: u32,
    /// When the snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// The bizbase version that wrote it.
    pub bizbase_version: String,
    /// The database dump.
    pub database: FileSum,
    /// Rows per table (`schema.table`) in the snapshot.
    pub tables: BTreeMap<String, i64>,
    /// The objects of `storage.objects` in the snapshot, with their blobs.
    pub objects: Vec<ObjectSum>,
}

/// Size and SHA-256 of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// One stored object and its blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectSum {
    /// Its bucket.
    pub bucket_id: String,
    /// Its name in the bucket.
    pub name: String,
    /// The blob version (the store location).
    pub version: String,
    /// Size and SHA-256 of the blob.
    #[serde(flatten)]
    pub sum: FileSum,
}

impl Manifest {
    /// Checks what was unpacked (entry name → size and SHA-256) against the manifest: every
    /// entry it lists present with its checksum, nothing else.
    pub fn check(&self, unpacked: &BTreeMap<String, FileSum>) -> anyhow::Result<()> {
        let mut expected: BTreeMap<String, &FileSum> = self
            .objects
            .iter()
            .map(|o| (blob_entry(&o.version), &o.sum))
            .collect();
        expected.insert(DUMP_ENTRY.to_owned(), &self.database);
        for (name, sum) in &expected {
            match unpacked.get(name) {
                None => bail!("the archive lacks {name}, which its manifest lists"),
                Some(got) if got != *sum => bail!(
                    "{name} does not match its checksum in the manifest (the archive was altered)"
                ),
                Some(_) => {}
            }
        }
        if let Some(extra) = unpacked.keys().find(|k| !expected.contains_key(*k)) {
            bail!("the archive holds {extra}, which its manifest does not list");
        }
        Ok(())
    }
}

/// Rows of every table of [`SCHEMAS`], counted by one statement (so in one snapshot). Row
/// security is switched off for the transaction so a policy can only make this fail, never
/// undercount.
pub async fn row_counts(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    sqlx::query("set local row_security = off")
        .execute(&mut *conn)
        .await?;
    // query_to_xml runs a statement built from quoted identifiers (%I) inside PostgreSQL.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select n.nspname || '.' || c.relname,
                (xpath('/row/n/text()', query_to_xml(
                    format('select count(*) as n from %I.%I', n.nspname, c.relname),
                    false, true, '')))[1]::text::bigint
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = any($1) and c.relkind in ('r', 'p')
          order by 1",
    )
    .bind(SCHEMAS)
    .fetch_all(&mut *conn)
    .await
    .context("counting rows")?;
    Ok(rows.into_iter().collect())
}
