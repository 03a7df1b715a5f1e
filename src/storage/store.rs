//! The object store and how bytes get into it: streamed in bounded chunks, measured on the way,
//! refused past a size limit, and published atomically (a multipart upload that is
//! either completed whole or aborted).

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::{
    ObjectStore, ObjectStoreExt, WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::{
    config::{StorageConfig, storage::S3Config},
    error::AppError,
};

/// Bytes buffered before a part is handed to the store; with [`MAX_PARTS_IN_FLIGHT`] this bounds
/// an upload's memory (about 10 MiB). S3 refuses parts under 5 MiB except the last.
const CHUNK_BYTES: usize = 5 * 1024 * 1024;

/// Parts being written concurrently per upload.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Opens the configured store: the S3-compatible service when one is configured, else the local
/// directory (created if missing), with `fsync` on every write so a committed row never points at
/// bytes a crash can lose.
pub fn open(config: &StorageConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if let Some(s3) = &config.s3 {
        return open_s3(s3, "BIZBASE_STORAGE_S3_*");
    }
    std::fs::create_dir_all(&config.dir).with_context(|| {
        format!(
            "BIZBASE_STORAGE_DIR: cannot create {}",
            config.dir.display()
        )
    })?;
    let local = LocalFileSystem::new_with_prefix(&config.dir)
        .with_context(|| format!("BIZBASE_STORAGE_DIR: cannot use {}", config.dir.display()))?
        .with_fsync(true)
        .with_automatic_cleanup(true);
    Ok(Arc::new(local))
}

/// Opens an S3-compatible store; `keys` names its settings in errors.
pub fn open_s3(s3: &S3Config, keys: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_virtual_hosted_style_request(!s3.path_style);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(id) = &s3.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose_secret());
    }
    let store = builder
        .build()
        .with_context(|| format!("{keys}: cannot configure the S3 store"))?;
    Ok(Arc::new(store))
}

/// Where the bytes of `version` live: fanned out by its first two characters so no directory
/// grows huge.
pub fn location(version: &str) -> Path {
    let fan = version.get(..2).unwrap_or("00");
    Path::from(format!("{fan}/{version}"))
}

/// A new version id for a blob about to be written.
pub fn new_version() -> String {
    Uuid::new_v4().to_string()
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// Bytes stored.
    pub size: u64,
}

/// The `ETag` of the blob `version`: its id without dashes, quoted. A blob is never rewritten
/// (new bytes get a new version), so this is a strong validator — equal tags, equal bytes —
/// without hashing every upload (MD5 cost more than the rest of an upload together; and S3's
/// own tags are no content MD5 for multipart uploads either).
pub fn etag(version: &str) -> String {
    format!("\"{}\"", version.replace('-', ""))
}

/// Streams `body` into `location`, refusing more than `limit` bytes (`entity too large`). On any
/// error the partial upload is aborted, so nothing is left at `location`.
pub async fn write<S>(
    store: &dyn ObjectStore,
    location: &Path,
    mut body: S,
    limit: u64,
) -> Result<Written, AppError>
where
    S: Stream<Item = Result<Bytes, AppError>> + Unpin,
{
    let upload = store
        .put_multipart(location)
        .await
        .context("start writing an object")?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK_BYTES);
    let mut size: u64 = 0;
    let result = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(AppError::PayloadTooLarge);
            }
            writer
                .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                .await
                .context("write an object")?;
            writer.put(chunk);
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(error = %abort, "aborting a partial upload failed");
        }
        return Err(e);
    }
    writer.finish().await.context("finish writing an object")?;
    Ok(Written { size })
}

/// The bytes of a local file as a stream of chunks for [`write`].
pub fn file_chunks(
    file: tokio::fs::File,
) -> impl Stream<Item = Result<Bytes, AppError>> + Unpin + Send {
    Box::pin(futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(AppError::from(anyhow::Error::from(e))), file)),
        }
    }))
}

/// Deletes the blobs of `versions`, after the rows that pointed at them are gone. Failures are
/// logged, not returned: the request already succeeded, and an orphan blob is invisible.
pub async fn forget(store: &dyn ObjectStore, versions: impl IntoIterator<Item = String>) {
    for version in versions {
        match store.delete(&location(&version)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(storage.version = %version, error = %e, "deleting a blob failed")
            }
        }
    }
}
