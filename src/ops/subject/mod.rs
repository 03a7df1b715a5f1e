//! Data-subject rights (GDPR access and erasure). The SQL in `private.subject_document` /
//! `private.subject_erase` decides what refers to the person; here the export gets the bytes of
//! the person's files, and erasure deletes those bytes from the object store after the rows are
//! gone. The operator runs them with `bizbase subject export|erase --email …`; an org admin at
//! aal2 with `POST /functions/v1/subject-export|subject-erase` (see [`http`]).

pub mod http;

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use futures_util::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{config::Config, storage::store};

/// The most file bytes one export embeds; a person with more is exported without the bytes of
/// the files past it (each such file says so), so an export never exhausts memory.
pub const MAX_EMBEDDED_BYTES: u64 = 256 * 1024 * 1024;

/// Every row and file that refers to the person with `email`, within `org` or everywhere, with
/// the files' bytes.
pub async fn export(
    config: &Config,
    pool: &PgPool,
    email: &str,
    org: Option<Uuid>,
) -> anyhow::Result<Value> {
    let mut document: Value = sqlx::query_scalar("select private.subject_document($1, $2)")
        .bind(email)
        .bind(org)
        .fetch_one(pool)
        .await?;
    let objects = store::open(&config.storage)?;
    embed_files(objects.as_ref(), &mut document).await?;
    Ok(document)
}

/// Adds to each entry of the document's `files` its bytes as `content_base64` (and `size`), up to
/// [`MAX_EMBEDDED_BYTES`] in all; a file past that gets `"content_omitted": "too large"` instead.
pub async fn embed_files(objects: &dyn ObjectStore, document: &mut Value) -> anyhow::Result<()> {
    let Some(files) = document.get_mut("files").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    let mut budget = MAX_EMBEDDED_BYTES;
    for file in files {
        let Some(version) = file.get("version").and_then(Value::as_str) else {
            continue;
        };
        let got = match objects.get(&store::location(version)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                file["content_omitted"] = "missing from the file store".into();
                continue;
            }
            Err(e) => return Err(e).context("reading a file of the export"),
        };
        let size = got.meta.size;
        file["size"] = size.into();
        if size > budget {
            file["content_omitted"] = "too large to embed; download it from storage".into();
            continue;
        }
        budget -= size;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.context("reading a file of the export")?);
        }
        file["content_base64"] = STANDARD.encode(&bytes).into();
    }
    Ok(())
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
    if org.is_none() {
        // The account goes too: take its row first, as every auth write does before it touches
        // factors, sessions or e-mailed tokens (`auth::user::lock`). Deleting those first and then
        // waiting for the row deadlocked with a verification running at that instant.
        sqlx::query("select from auth.users where email = lower(trim($1)) for no key update")
            .bind(email)
            .execute(&mut *tx)
            .await?;
    }
    let done: Value = sqlx::query_scalar("select private.subject_erase($1, $2)")
        .bind(email)
        .bind(org)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let objects = store::open(&config.storage)?;
    Ok(forget_files(objects.as_ref(), done).await)
}

/// Deletes the bytes of the files an erasure removed (its `files`, with their versions), and
/// returns the erasure's report without the versions.
pub async fn forget_files(objects: &dyn ObjectStore, mut done: Value) -> Value {
    let versions: Vec<String> = done["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["version"].as_str().map(str::to_owned))
        .collect();
    store::forget(objects, versions).await;
    if let Some(files) = done.get_mut("files").and_then(Value::as_array_mut) {
        for file in files {
            if let Some(map) = file.as_object_mut() {
                map.remove("version");
            }
        }
    }
    done
}
