//! `bizbase restore`: decrypt and check the whole archive into a scratch directory first, then
//! load an empty database and an empty store from it.
//!
//! Nothing is changed until the archive has been read to its authenticated end and every entry
//! matched the manifest; then the database is checked to hold no bizbase schema and the store no
//! object (a restore never merges into or overwrites data), the files are written, and
//! `pg_restore` runs in one transaction; if anything fails, the files written are removed, so a
//! failed restore leaves the database and store empty and can simply be run again.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{
    archive::{BackupKey, ChunkReader, eof_is_damage, read_entry_header},
    destination::{Destination, Local},
    dump::{self, Target},
    manifest::{DUMP_ENTRY, FileSum, MANIFEST_ENTRY, Manifest, blob_entry},
};
use crate::{
    auth::crypto::{hex, random_token},
    config::Config,
    db::Database,
    storage::store::{self, location},
};

/// Which archive to restore.
#[derive(Debug, Clone)]
pub enum Source {
    /// The newest archive of the backup destination.
    Latest,
    /// This file, or (when no such file exists) the archive of this name in the destination.
    File(PathBuf),
}

/// The archive `source` names as a local file (downloaded when it is kept in S3), and where it
/// was found.
async fn resolve(destination: &Destination, source: &Source) -> anyhow::Result<(Local, String)> {
    let name = match source {
        Source::File(path) if path.exists() || !matches!(destination, Destination::S3 { .. }) => {
            let local = Local::existing(path.clone());
            return Ok((local, path.display().to_string()));
        }
        Source::File(path) => path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|_| path.parent().is_none_or(|p| p.as_os_str().is_empty()))
            .with_context(|| format!("no archive {}", path.display()))?
            .to_owned(),
        Source::Latest => destination.latest().await?,
    };
    Ok((destination.fetch(&name).await?, destination.describe(&name)))
}

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An archive decrypted and checked: its entries as files under `dir`.
#[derive(Debug)]
pub struct Unpacked {
    /// Where the archive read is kept (a path or an `s3://` URL).
    pub archive: String,
    /// Where its entries are (removed when this is dropped).
    pub dir: Scratch,
    /// Its manifest, every checksum of which matched.
    pub manifest: Manifest,
}

impl Unpacked {
    fn entry(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }
}

/// Decrypts the archive `source` names into a scratch directory next to the backups and checks it
/// against its manifest. A wrong key or a damaged archive is an error here, before any change.
pub async fn open_archive(config: &Config, source: &Source) -> anyhow::Result<Unpacked> {
    let key = BackupKey::from_config(&config.backup)?;
    let destination = Destination::of(&config.backup)?;
    let (local, archive) = resolve(&destination, source).await?;
    let dir = Scratch(
        destination
            .staging()
            .join(format!(".unpack-{}", random_token::<9>())),
    );
    std::fs::create_dir(&dir.0)?;
    let root = dir.0.clone();
    let manifest = tokio::task::spawn_blocking(move || unpack(&local.path, &key, &root))
        .await
        .context("unpacking the archive")?
        .with_context(|| format!("{archive} cannot be restored"))?;
    Ok(Unpacked {
        archive,
        dir,
        manifest,
    })
}

/// Hashes what passes through to a file.
struct Hashing {
    file: File,
    hash: Sha256,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Entry names are the dump, the manifest, or `blobs/<version>` with a plain file name.
fn safe_name(name: &str) -> bool {
    name == DUMP_ENTRY
        || name.strip_prefix("blobs/").is_some_and(|v| {
            !v.is_empty()
                && !v.starts_with('.')
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

fn unpack(path: &Path, key: &BackupKey, root: &Path) -> anyhow::Result<Manifest> {
    let mut r = ChunkReader::open(path, key)?;
    let mut sums = BTreeMap::new();
    let mut manifest = None;
    while let Some((name, size)) = read_entry_header(&mut r)? {
        if manifest.is_some() {
            bail!("the archive is damaged (an entry follows the manifest)");
        }
        if name == MANIFEST_ENTRY {
            let len = usize::try_from(size).ok().filter(|n| *n <= 256 << 20);
            let mut bytes = vec![0u8; len.context("the manifest is implausibly large")?];
            r.read_exact(&mut bytes).map_err(eof_is_damage)?;
            manifest = Some(bytes);
            continue;
        }
        if !safe_name(&name) || sums.contains_key(&name) {
            bail!("the archive is damaged (unexpected entry {name:?})");
        }
        let file_path = root.join(&name);
        if let Some(dir) = file_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = Hashing {
            file: File::create(&file_path)?,
            hash: Sha256::new(),
        };
        let copied = std::io::copy(&mut (&mut r).take(size), &mut out)?;
        if copied != size {
            bail!("the archive is damaged, truncated or was altered (it ends inside {name})");
        }
        let sha256 = hex(&out.hash.finalize());
        sums.insert(name, FileSum { size, sha256 });
    }
    if r.read(&mut [0u8; 1])? != 0 {
        bail!("the archive is damaged (data after its end)");
    }
    let manifest: Manifest =
        serde_json::from_slice(&manifest.context("the archive has no manifest")?)
            .context("the manifest cannot be read")?;
    manifest.check(&sums)?;
    Ok(manifest)
}

/// What `bizbase restore` did.
#[derive(Debug)]
pub struct Restored {
    /// Where the archive restored is kept.
    pub archive: String,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Restores the archive `source` names into the configured database and store, which must be
/// empty.
pub async fn restore(config: &Config, source: &Source) -> anyhow::Result<Restored> {
    let unpacked = open_archive(config, source).await?;
    let database = Database::open(config).await?;
    let result = restore_into(config, &database, &unpacked).await;
    database.close().await?;
    result?;
    Ok(Restored {
        archive: unpacked.archive.clone(),
        manifest: unpacked.manifest.clone(),
    })
}

async fn restore_into(
    config: &Config,
    database: &Database,
    unpacked: &Unpacked,
) -> anyhow::Result<()> {
    let pool = &database.pool;
    let holds: bool = sqlx::query_scalar(
        "select exists (select from pg_namespace where nspname in ('auth', 'storage', 'private'))
             or exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace
                         where n.nspname = 'public')",
    )
    .fetch_one(pool)
    .await?;
    if holds {
        let name: String = sqlx::query_scalar("select current_database()")
            .fetch_one(pool)
            .await?;
        bail!(
            "the database {name} is not empty (it has the auth, storage or private schema, or relations in public); \
             restore only loads an empty database: create a new one and point DATABASE_URL at it, \
             or drop and re-create this one after making sure nothing in it is needed"
        );
    }
    let objects = store::open(&config.storage)?;
    if objects.list(None).next().await.is_some() {
        let place = match &config.storage.s3 {
            Some(_) => "the S3 bucket (BIZBASE_STORAGE_S3_BUCKET)".to_owned(),
            None => format!("{} (BIZBASE_STORAGE_DIR)", config.storage.dir.display()),
        };
        bail!("the file store {place} is not empty; restore only fills an empty store");
    }
    let bin = dump::tools(config, pool).await?;
    // Files first, then the database in one transaction: if loading the database fails, the files
    // written are removed again, so a failed restore leaves the empty database and store it found.
    put_blobs(&*objects, unpacked).await?;
    let loaded = load_database(&bin, &Target::of(config, database)?, pool, unpacked).await;
    if loaded.is_err() {
        store::forget(&*objects, versions(unpacked)).await;
    }
    loaded
}

fn versions(unpacked: &Unpacked) -> impl Iterator<Item = String> + '_ {
    unpacked.manifest.objects.iter().map(|o| o.version.clone())
}

/// Loads the dump into the empty database of `target` (reached through `pool`), with the
/// cluster-wide roles the dump's grants name (the API roles, the hook's `supabase_auth_admin`)
/// created first and their settings applied after, and what the dump's restore leaves out
/// (event triggers, other roles' default privileges) installed again as the restoring role.
pub async fn load_database(
    bin: &Path,
    target: &Target,
    pool: &PgPool,
    unpacked: &Unpacked,
) -> anyhow::Result<()> {
    dump::rerun_migration(pool, "roles").await?;
    dump::rerun_migration(pool, "auth hook role").await?;
    let superuser: bool =
        sqlx::query_scalar("select rolsuper from pg_catalog.pg_roles where rolname = current_user")
            .fetch_one(pool)
            .await?;
    dump::restore(bin, target, &unpacked.entry(DUMP_ENTRY), superuser).await?;
    dump::rerun_migration(pool, "role timeouts").await?;
    // What the restore left out (see `dump::restore`), as this role: the default privileges of
    // the hook's role, and the event triggers where it may create them.
    dump::rerun_migration(pool, "auth hook call").await?;
    dump::rerun_migration(pool, "reload schema on ddl").await
}

/// Writes every blob of the manifest into `objects` at its version's location; if one cannot be
/// written, those written are removed again.
pub async fn put_blobs(objects: &dyn ObjectStore, unpacked: &Unpacked) -> anyhow::Result<()> {
    let written = put_each_blob(objects, unpacked).await;
    if written.is_err() {
        store::forget(objects, versions(unpacked)).await;
    }
    written
}

async fn put_each_blob(objects: &dyn ObjectStore, unpacked: &Unpacked) -> anyhow::Result<()> {
    for object in &unpacked.manifest.objects {
        let file = tokio::fs::File::open(unpacked.entry(&blob_entry(&object.version))).await?;
        store::write(
            objects,
            &location(&object.version),
            store::file_chunks(file),
            u64::MAX,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("writing the blob of {}/{}", object.bucket_id, object.name))?;
    }
    Ok(())
}
