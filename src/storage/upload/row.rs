//! The object's row: the dry run before any byte is stored, and the write that points the row at
//! the stored version and commits (replacing, with upsert, what the target allows).

use serde_json::{Value, json};
use uuid::Uuid;

use super::Target;
use crate::{
    db::identity::{self, Access},
    error::{AppError, AppResult},
    storage::{
        Storage,
        access::{self, bucket_not_found},
        store,
    },
};

/// The insert of an object row, with or without the upsert clause.
macro_rules! insert_object {
    () => {
        "insert into storage.objects \
         (id, bucket_id, name, owner, owner_id, metadata, user_metadata, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)"
    };
}

const INSERT_SQL: &str = insert_object!();

const UPSERT_SQL: &str = concat!(
    insert_object!(),
    " on conflict (bucket_id, name) do update set owner = excluded.owner, \
       owner_id = excluded.owner_id, metadata = excluded.metadata, \
       user_metadata = excluded.user_metadata, version = excluded.version, \
       last_accessed_at = now() \
     returning id"
);

/// Inserts (or upserts) the row; a plain insert has no RETURNING, so INSERT alone is enough
/// under RLS, as in Supabase.
async fn write_row(
    conn: &mut sqlx::PgConnection,
    target: &Target,
    id: Uuid,
    metadata: &Value,
    user_metadata: Option<&Value>,
    version: &str,
) -> AppResult<Uuid> {
    let (owner, owner_id) = access::owner(&target.who);
    let sql = if target.upsert {
        UPSERT_SQL
    } else {
        INSERT_SQL
    };
    let returned: Option<Uuid> = sqlx::query_scalar(sql)
        .bind(id)
        .bind(&target.bucket.id)
        .bind(&target.name)
        .bind(owner)
        .bind(owner_id)
        .bind(metadata)
        .bind(user_metadata)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| access::db_error(e, "key_already_exists", bucket_not_found()))?;
    Ok(returned.unwrap_or(id))
}

/// A dry-run write of the row in the writer's identity, rolled back: RLS, the unique key and the
/// bucket refuse here, before any byte is stored. The real write ([`commit_version`]) checks all
/// of it again, in its own transaction, once the bytes are stored. With upsert, the answer is the
/// version the write would replace (`None` when the path is free).
pub async fn checked(
    s: &Storage,
    target: &Target,
    id: Uuid,
    user_metadata: Option<&Value>,
    version: &str,
) -> AppResult<Option<String>> {
    let mut tx = identity::begin(&s.app.api_pool, &target.who, Access::ReadWrite).await?;
    let replaced = replaced(&mut tx, target).await?;
    write_row(&mut tx, target, id, &json!({}), user_metadata, version).await?;
    tx.rollback().await?;
    Ok(replaced.and_then(|(_, version)| version))
}

/// With upsert, the owner and version of the object an upload to the target would replace, locked
/// until the transaction ends (`None` without upsert, or when the path is free or invisible).
async fn replaced(
    conn: &mut sqlx::PgConnection,
    target: &Target,
) -> AppResult<Option<(Option<Uuid>, Option<String>)>> {
    if !target.upsert {
        return Ok(None);
    }
    sqlx::query_as(
        "select owner, version from storage.objects where bucket_id = $1 and name = $2 for update",
    )
    .bind(&target.bucket.id)
    .bind(&target.name)
    .fetch_optional(conn)
    .await
    .map_err(|e| access::db_error(e, "key_already_exists", bucket_not_found()))
}

/// Points the object's row at `version` (whose bytes are already stored) and commits; then the
/// replaced version's bytes are deleted. On failure the new bytes are deleted instead.
pub async fn commit_version(
    s: &Storage,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    target: &Target,
    id: Uuid,
    metadata: &Value,
    user_metadata: Option<&Value>,
    version: &str,
) -> AppResult<Uuid> {
    let finished = async {
        let previous = replaced(&mut tx, target).await?;
        if let Some((owner, version)) = &previous
            && !target.replaceable.allows(*owner, version.as_deref())
        {
            return Err(AppError::Forbidden {
                code: "access_denied",
                message: "this signed upload URL may not replace the object now at its path".into(),
            });
        }
        let previous = previous.map(|(_, version)| version);
        let id = write_row(&mut tx, target, id, metadata, user_metadata, version).await?;
        tx.commit().await?;
        Ok::<_, AppError>((id, previous.flatten()))
    }
    .await;
    match finished {
        Ok((id, previous)) => {
            store::forget(&*s.store, previous).await;
            Ok(id)
        }
        Err(e) => {
            store::forget(&*s.store, [version.to_owned()]).await;
            Err(e)
        }
    }
}
