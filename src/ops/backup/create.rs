//! `bizbase backup`: one snapshot, one archive.
//!
//! A REPEATABLE READ transaction exports its snapshot; in it bizbase counts every table's rows and
//! lists `storage.objects`, while `pg_dump --snapshot` dumps exactly that state. The blobs of those
//! objects are then read from the store (a blob is immutable once written: new content gets a new
//! version), hashed and appended, and the manifest closes the archive.

use std::path::{Path, PathBuf};

use super::destination::Destination;

use anyhow::Context;
use chrono::Utc;
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{
    archive::{ArchiveWriter, BackupKey, CHUNK},
    dump::{self, Connection},
    manifest::{self, DUMP_ENTRY, FileSum, MANIFEST_ENTRY, Manifest, ObjectSum},
};
use crate::{
    auth::crypto::hex,
    config::Config,
    db::Database,
    storage::store::{self, location},
};

/// File name suffix of finished archives.
pub const SUFFIX: &str = ".backup";

/// What `bizbase backup` wrote.
#[derive(Debug)]
pub struct Created {
    /// The archive's name (`bizbase-<UTC time>.backup`).
    pub name: String,
    /// Where it is kept: a path, or an `s3://` URL.
    pub location: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Size of the archive in bytes.
    pub size: u64,
}

/// Removes a file when dropped (temporary dump, unfinished archive).
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes a new archive of the database and files `config` names to the backup destination.
pub async fn create(config: &Config) -> anyhow::Result<Created> {
    let key = BackupKey::from_config(&config.backup)?;
    let destination = Destination::of(&config.backup)?;
    let database = Database::open(config).await?;
    let result = match Connection::of(config, &database) {
        Ok(conn) => create_in(config, &conn, &key, &destination).await,
        Err(e) => Err(e),
    };
    database.close().await?;
    result
}

/// Writes a new archive over an open connection (the scheduler inside `serve`).
pub async fn create_on(config: &Config, conn: &Connection) -> anyhow::Result<Created> {
    let key = BackupKey::from_config(&config.backup)?;
    let destination = Destination::of(&config.backup)?;
    create_in(config, conn, &key, &destination).await
}

async fn create_in(
    config: &Config,
    conn: &Connection,
    key: &BackupKey,
    destination: &Destination,
) -> anyhow::Result<Created> {
    let bin = dump::tools(config, &conn.pool).await?;
    let target = conn.target.clone();
    let objects_store = store::open(&config.storage)?;
    let stamp = Utc::now();
    let name = format!("bizbase-{}", stamp.format("%Y%m%dT%H%M%S%.3fZ"));
    let dir = destination.staging();
    let dump_file = Temp(dir.join(format!(".{name}.dump")));

    let mut tx = conn.pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let snapshot: String = sqlx::query_scalar("select pg_export_snapshot()")
        .fetch_one(&mut *tx)
        .await
        .context("exporting a snapshot")?;
    let tables = manifest::row_counts(&mut tx).await?;
    let objects: Vec<(String, String, String)> = sqlx::query_as(
        "select bucket_id, name, version from storage.objects where version is not null \
         order by bucket_id, name",
    )
    .fetch_all(&mut *tx)
    .await
    .context("listing storage.objects")?;
    // The snapshot lives as long as the exporting transaction: keep it open until pg_dump is done.
    dump::dump(&bin, &target, &snapshot, &dump_file.0).await?;
    tx.rollback().await?;

    let partial = Temp(dir.join(format!(".{name}{SUFFIX}.partial")));
    let mut out = ArchiveWriter::create(&partial.0, key).await?;
    let database_sum = append_file(&mut out, DUMP_ENTRY, &dump_file.0).await?;
    let mut sums = Vec::with_capacity(objects.len());
    let mut progress = Progress::new(objects.len());
    for (bucket_id, object, version) in objects {
        let got = objects_store
            .get(&location(&version))
            .await
            .with_context(|| {
                format!("reading the blob of {bucket_id}/{object} (version {version}); if it was deleted during the backup, run it again")
            })?;
        let size = got.meta.size;
        out.begin_entry(&manifest::blob_entry(&version), size)
            .await?;
        let mut hash = Sha256::new();
        let mut stream = got.into_stream();
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.context("reading a blob")?;
            hash.update(&bytes);
            out.write(&bytes).await?;
        }
        progress.advance(size);
        sums.push(ObjectSum {
            bucket_id,
            name: object,
            version,
            sum: FileSum {
                size,
                sha256: hex(&hash.finalize()),
            },
        });
    }
    let manifest = Manifest {
        format: 1,
        created_at: stamp,
        bizbase_version: env!("CARGO_PKG_VERSION").to_owned(),
        database: database_sum,
        tables,
        objects: sums,
    };
    progress.finish();
    let json = serde_json::to_vec_pretty(&manifest)?;
    out.begin_entry(MANIFEST_ENTRY, json.len() as u64).await?;
    out.write(&json).await?;
    out.finish().await?;

    let size = std::fs::metadata(&partial.0)?.len();
    let name = format!("{name}{SUFFIX}");
    let location = destination.keep(&partial.0, &name).await?;
    Ok(Created {
        name,
        location,
        manifest,
        size,
    })
}

/// Appends the file at `path` as entry `name`, returning its size and SHA-256.
async fn append_file(
    out: &mut ArchiveWriter<'_>,
    name: &str,
    path: &Path,
) -> anyhow::Result<FileSum> {
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    out.begin_entry(name, size).await?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        out.write(&buf[..n]).await?;
    }
    Ok(FileSum {
        size,
        sha256: hex(&hash.finalize()),
    })
}

/// A one-line progress report of the files being archived, drawn on standard error when it is a
/// terminal (and silent otherwise, e.g. under `serve` or in a pipe).
struct Progress {
    total: usize,
    done: usize,
    bytes: u64,
    on_terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        use std::io::IsTerminal;
        Self {
            total,
            done: 0,
            bytes: 0,
            on_terminal: std::io::stderr().is_terminal() && total > 0,
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done += 1;
        self.bytes += bytes;
        if self.on_terminal {
            eprint!("\r{}", self.line());
        }
    }

    fn line(&self) -> String {
        let width = 30;
        let filled = (self.done * width / self.total.max(1)).min(width);
        format!(
            "files [{}{}] {}/{} ({:.1} MB)",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total,
            self.bytes as f64 / 1_048_576.0
        )
    }

    fn finish(&self) {
        if self.on_terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn the_progress_line_fills_with_the_files_archived() {
        let mut p = Progress::new(4);
        p.on_terminal = false;
        p.advance(1_048_576);
        assert_eq!(
            p.line(),
            format!("files [{}{}] 1/4 (1.0 MB)", "#".repeat(7), " ".repeat(23))
        );
        for _ in 0..3 {
            p.advance(524_288);
        }
        assert_eq!(p.line(), format!("files [{}] 4/4 (2.5 MB)", "#".repeat(30)));
    }
}
