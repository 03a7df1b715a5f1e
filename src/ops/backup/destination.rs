//! Where finished archives are kept: the backup directory, or an S3-compatible bucket when
//! `BIZBASE_BACKUP_S3_BUCKET` is set.
//!
//! Archives are always written (and, from S3, read back) through the backup directory, which with
//! S3 only stages them: a finished archive is uploaded whole (a multipart upload that is completed
//! or aborted, so a half-sent archive is never listed) and its local copy removed. Archives are
//! named `bizbase-<UTC time>.backup`, so listing them in name order lists them oldest first.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context;
use futures_util::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, path::Path as Key};
use tokio::io::AsyncWriteExt;

use super::create::SUFFIX;
use crate::{auth::crypto::random_token, config::BackupConfig, storage::store};

/// The place archives are kept.
#[derive(Debug)]
pub enum Destination {
    /// Files in this directory.
    Dir(PathBuf),
    /// Objects in an S3-compatible bucket.
    S3 {
        /// The bucket.
        store: Arc<dyn ObjectStore>,
        /// Its name, for messages.
        bucket: String,
        /// The key prefix of the archives (no slashes at either end; may be empty).
        prefix: String,
        /// The local directory archives are staged in.
        staging: PathBuf,
    },
}

/// An archive fetched to a local file; a downloaded copy is removed when this is dropped.
#[derive(Debug)]
pub struct Local {
    /// The file.
    pub path: PathBuf,
    temporary: bool,
}

impl Local {
    /// A file that stays where it is.
    pub fn existing(path: PathBuf) -> Self {
        Self {
            path,
            temporary: false,
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether a file or key name is that of a finished archive.
pub fn is_archive(name: &str) -> bool {
    name.starts_with("bizbase-") && name.ends_with(SUFFIX)
}

impl Destination {
    /// The destination `config` names; the staging directory is created.
    pub fn of(config: &BackupConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.dir).with_context(|| {
            format!("BIZBASE_BACKUP_DIR: cannot create {}", config.dir.display())
        })?;
        Ok(match &config.s3 {
            None => Self::Dir(config.dir.clone()),
            Some((s3, prefix)) => Self::S3 {
                store: store::open_s3(s3, "BIZBASE_BACKUP_S3_*")?,
                bucket: s3.bucket.clone(),
                prefix: prefix.clone(),
                staging: config.dir.clone(),
            },
        })
    }

    /// The local directory archives are written in before they are kept, and unpacked in.
    pub fn staging(&self) -> &Path {
        match self {
            Self::Dir(dir) => dir,
            Self::S3 { staging, .. } => staging,
        }
    }

    fn key(prefix: &str, name: &str) -> Key {
        if prefix.is_empty() {
            Key::from(name)
        } else {
            Key::from(format!("{prefix}/{name}"))
        }
    }

    /// Where the archive `name` is, for people: a path or an `s3://` URL.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Self::Dir(dir) => dir.join(name).display().to_string(),
            Self::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{}", Self::key(prefix, name)),
        }
    }

    /// The names of the finished archives, oldest first.
    pub async fn list(&self) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = match self {
            Self::Dir(dir) => std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the backup directory {}", dir.display()))?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| is_archive(n))
                .collect(),
            Self::S3 { store, prefix, .. } => {
                let at = (!prefix.is_empty()).then(|| Key::from(prefix.as_str()));
                let listing = store
                    .list_with_delimiter(at.as_ref())
                    .await
                    .with_context(|| {
                        format!("cannot list the archives in {}", self.describe(""))
                    })?;
                listing
                    .objects
                    .into_iter()
                    .filter_map(|o| o.location.filename().map(str::to_owned))
                    .filter(|n| is_archive(n))
                    .collect()
            }
        };
        names.sort();
        Ok(names)
    }

    /// The newest archive's name.
    pub async fn latest(&self) -> anyhow::Result<String> {
        self.list()
            .await?
            .pop()
            .with_context(|| format!("no backup archive in {}", self.describe("")))
    }

    /// Keeps the finished archive at `finished` (in the staging directory) as `name`, returning
    /// where it now is.
    pub async fn keep(&self, finished: &Path, name: &str) -> anyhow::Result<String> {
        match self {
            Self::Dir(dir) => {
                let path = dir.join(name);
                std::fs::rename(finished, &path)
                    .with_context(|| format!("cannot move the archive to {}", path.display()))?;
            }
            Self::S3 { store, prefix, .. } => {
                let file = tokio::fs::File::open(finished).await?;
                store::write(
                    &**store,
                    &Self::key(prefix, name),
                    store::file_chunks(file),
                    u64::MAX,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("uploading the archive to {}", self.describe(name)))?;
                std::fs::remove_file(finished)?;
            }
        }
        Ok(self.describe(name))
    }

    /// The archive `name` as a local file: the file itself, or a download into the staging
    /// directory that is removed when the result is dropped.
    pub async fn fetch(&self, name: &str) -> anyhow::Result<Local> {
        match self {
            Self::Dir(dir) => Ok(Local::existing(dir.join(name))),
            Self::S3 {
                store,
                prefix,
                staging,
                ..
            } => {
                let local = Local {
                    path: staging.join(format!(".download-{}-{name}", random_token::<6>())),
                    temporary: true,
                };
                let got = store
                    .get(&Self::key(prefix, name))
                    .await
                    .with_context(|| format!("cannot read {}", self.describe(name)))?;
                let mut file = tokio::fs::File::create(&local.path).await?;
                let mut stream = got.into_stream();
                while let Some(bytes) = stream.next().await {
                    let bytes =
                        bytes.with_context(|| format!("downloading {}", self.describe(name)))?;
                    file.write_all(&bytes).await?;
                }
                file.flush().await?;
                Ok(local)
            }
        }
    }

    /// Removes the archive `name`.
    pub async fn remove(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Self::Dir(dir) => std::fs::remove_file(dir.join(name))?,
            Self::S3 { store, prefix, .. } => store
                .delete(&Self::key(prefix, name))
                .await
                .with_context(|| format!("cannot remove {}", self.describe(name)))?,
        }
        Ok(())
    }
}
