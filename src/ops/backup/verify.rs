//! `bizbase backup verify`, the restore drill: the newest archive restored into a scratch
//! database (`bizbase_verify_<random>` on the same server, dropped afterwards) and a scratch
//! directory, then compared with its manifest — every table's row count, the objects listed in
//! `storage.objects`, and every blob's SHA-256 as read back from the restored store.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use object_store::{ObjectStoreExt, local::LocalFileSystem};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPoolOptions;

use super::{
    dump::{self, Connection, Target},
    manifest::row_counts,
    restore::{Source, Unpacked, load_database, open_archive, put_blobs},
};
use crate::{
    auth::crypto::{hex, random_bytes},
    config::Config,
    db::Database,
    storage::store::location,
};

/// The outcome of a drill.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Where the archive restored is kept.
    pub archive: String,
    /// When it was taken.
    pub created_at: DateTime<Utc>,
    /// Tables compared.
    pub tables: usize,
    /// Rows the manifest counts.
    pub rows: i64,
    /// Blobs restored and re-hashed.
    pub objects: usize,
    /// Every difference found (empty: the archive restores to what was backed up).
    pub mismatches: Vec<String>,
}

impl Report {
    /// Whether the restore matched the manifest.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Restores the newest archive into a scratch database and directory and compares.
pub async fn verify(config: &Config) -> anyhow::Result<Report> {
    let unpacked = open_archive(config, &Source::Latest).await?;
    let database = Database::open(config).await?;
    let result = match Connection::of(config, &database) {
        Ok(conn) => drill(config, &conn, &unpacked).await,
        Err(e) => Err(e),
    };
    database.close().await?;
    result
}

/// The restore drill of the newest archive over an open connection (the scheduler in `serve`).
pub async fn verify_on(config: &Config, conn: &Connection) -> anyhow::Result<Report> {
    let unpacked = open_archive(config, &Source::Latest).await?;
    drill(config, conn, &unpacked).await
}

async fn drill(config: &Config, conn: &Connection, unpacked: &Unpacked) -> anyhow::Result<Report> {
    let bin = dump::tools(config, &conn.pool).await?;
    let name = format!("bizbase_verify_{}", hex(&random_bytes::<6>()));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&conn.pool)
        .await
        .with_context(|| format!("creating the scratch database {name}"))?;
    let target = conn.target.with_database(&name);
    let result = drill_in(&bin, &target, unpacked).await;
    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&conn.pool)
    .await;
    if let Err(e) = dropped {
        tracing::warn!(database = %name, error = %e, "dropping the scratch database failed");
    }
    result
}

async fn drill_in(bin: &Path, target: &Target, unpacked: &Unpacked) -> anyhow::Result<Report> {
    let manifest = &unpacked.manifest;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(target.options.clone())
        .await
        .context("connecting to the scratch database")?;
    let loaded = load_database(bin, target, &pool, unpacked).await;
    let counted = match loaded {
        Ok(()) => count(&pool).await,
        Err(e) => Err(e),
    };
    pool.close().await;
    let (counts, listed) = counted?;

    let mut mismatches = Vec::new();
    for (table, rows) in &manifest.tables {
        match counts.get(table) {
            Some(n) if n == rows => {}
            Some(n) => mismatches.push(format!(
                "{table}: {n} rows restored, {rows} in the manifest"
            )),
            None => mismatches.push(format!("{table}: missing from the restored database")),
        }
    }
    for table in counts.keys().filter(|t| !manifest.tables.contains_key(*t)) {
        mismatches.push(format!("{table}: restored but not in the manifest"));
    }
    let expected: BTreeSet<(String, String, String)> = manifest
        .objects
        .iter()
        .map(|o| (o.bucket_id.clone(), o.name.clone(), o.version.clone()))
        .collect();
    if listed != expected {
        mismatches.push(format!(
            "storage.objects lists {} objects with blobs, the manifest {}",
            listed.len(),
            expected.len()
        ));
    }

    let store_dir = unpacked.dir.0.join("store");
    std::fs::create_dir_all(&store_dir)?;
    let store = LocalFileSystem::new_with_prefix(&store_dir)?;
    put_blobs(&store, unpacked).await?;
    for object in &manifest.objects {
        let got = store.get(&location(&object.version)).await?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut stream = got.into_stream();
        while let Some(bytes) = stream.next().await {
            let bytes = bytes?;
            size += bytes.len() as u64;
            hash.update(&bytes);
        }
        let sha256 = hex(&hash.finalize());
        if sha256 != object.sum.sha256 || size != object.sum.size {
            mismatches.push(format!(
                "{}/{}: the restored file differs from the manifest",
                object.bucket_id, object.name
            ));
        }
    }
    Ok(Report {
        archive: unpacked.archive.clone(),
        created_at: manifest.created_at,
        tables: manifest.tables.len(),
        rows: manifest.tables.values().sum(),
        objects: manifest.objects.len(),
        mismatches,
    })
}

type Listed = BTreeSet<(String, String, String)>;

async fn count(pool: &sqlx::PgPool) -> anyhow::Result<(BTreeMap<String, i64>, Listed)> {
    let mut tx = pool.begin().await?;
    let counts = row_counts(&mut tx).await?;
    let listed: Vec<(String, String, String)> = sqlx::query_as(
        "select bucket_id, name, version from storage.objects where version is not null",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok((counts, listed.into_iter().collect()))
}
