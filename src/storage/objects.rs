//! Object operations other than upload and download: list, remove, move and copy, each in the
//! caller's identity transaction (RLS decides, as in Supabase's table of §4.9).

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, Method},
};
use object_store::ObjectStoreExt;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Storage,
    access::{self, bucket_not_found, object_not_found},
    store,
    upload::{self, Target},
};
use crate::{
    db::identity::{self, Access},
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `sortBy` of a list request.
#[derive(Debug, Default, Deserialize)]
pub struct SortBy {
    column: Option<String>,
    order: Option<String>,
}

/// Body of `POST /object/list/{bucket}`, as storage-js sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody {
    prefix: Option<String>,
    limit: Option<i32>,
    offset: Option<i32>,
    sort_by: Option<SortBy>,
    search: Option<String>,
}

/// `POST /object/list/{bucket}`: the direct children of `prefix` — folders (`id: null`) then
/// files — with names relative to the prefix.
pub async fn list(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    AppJson(body): AppJson<ListBody>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, &format!("/object/list/{bucket}"), &headers)?;
    let mut prefix = body.prefix.unwrap_or_default();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let levels = i32::try_from(prefix.split('/').count()).unwrap_or(i32::MAX);
    let sort = body.sort_by.unwrap_or_default();
    let mut tx = s.app.reads.begin(&who).await?;
    let rows: Value = sqlx::query_scalar(
        "select coalesce(jsonb_agg(to_jsonb(r)), '[]') \
         from storage.search($1, $2, $3, $4, $5, $6, $7, $8) r",
    )
    .bind(&prefix)
    .bind(&bucket)
    .bind(body.limit.unwrap_or(100))
    .bind(levels)
    .bind(body.offset.unwrap_or(0))
    .bind(body.search.unwrap_or_default())
    .bind(sort.column.unwrap_or_else(|| "name".into()))
    .bind(sort.order.unwrap_or_else(|| "asc".into()))
    .fetch_one(tx.conn()?)
    .await
    .map_err(|e| access::db_error(e, "conflict", bucket_not_found()))?;
    tx.finish();
    Ok(Json(rows))
}

/// Body of `DELETE /object/{bucket}`.
#[derive(Debug, Deserialize)]
pub struct RemoveBody {
    prefixes: Vec<String>,
}

/// Deletes `names` from `bucket` as the caller (DELETE + SELECT under RLS), returning the deleted
/// rows; their bytes go after the commit.
async fn delete_rows(
    s: &Storage,
    method: &Method,
    headers: &HeaderMap,
    bucket: &str,
    names: &[String],
) -> AppResult<Vec<Value>> {
    let who = access::caller(&s.app, method, &format!("/object/{bucket}"), headers)?;
    let mut tx = identity::begin(&s.app.api_pool, &who, Access::ReadWrite).await?;
    let rows: Vec<Value> = sqlx::query_scalar(
        "delete from storage.objects where bucket_id = $1 and name = any($2) \
         returning to_jsonb(objects) - 'path_tokens'",
    )
    .bind(bucket)
    .bind(names)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| access::db_error(e, "conflict", object_not_found()))?;
    tx.commit().await?;
    let versions = rows
        .iter()
        .filter_map(|r| r.get("version").and_then(Value::as_str).map(str::to_owned));
    store::forget(&*s.store, versions.collect::<Vec<_>>()).await;
    Ok(rows)
}

/// `DELETE /object/{bucket}` with `{"prefixes": [...]}` (at most 1000): the deleted objects;
/// missing or invisible ones are skipped.
pub async fn remove_many(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    AppJson(body): AppJson<RemoveBody>,
) -> AppResult<Json<Value>> {
    if body.prefixes.is_empty() || body.prefixes.len() > 1000 {
        return Err(AppError::bad_request(
            "invalid_request",
            "prefixes must hold between 1 and 1000 keys",
        ));
    }
    let rows = delete_rows(&s, &method, &headers, &bucket, &body.prefixes).await?;
    Ok(Json(Value::Array(rows)))
}

/// `DELETE /object/{bucket}/{path}`.
pub async fn remove_one(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let rows = delete_rows(&s, &method, &headers, &bucket, &[name]).await?;
    if rows.is_empty() {
        return Err(object_not_found());
    }
    Ok(Json(json!({ "message": "Successfully deleted" })))
}

/// Body of `POST /object/move` and `/object/copy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferBody {
    bucket_id: String,
    source_key: String,
    destination_key: String,
    destination_bucket: Option<String>,
}

/// `POST /object/move`: renames the row (SELECT + UPDATE under RLS; the new row must pass the
/// UPDATE's check). The mover becomes the owner, as in Supabase (a caller without a user id, such
/// as service_role, leaves the owner as it was). The bytes stay where they are: they are stored by
/// version, not by name. The destination bucket's MIME types and size limit apply as to an upload
/// (else nothing moves).
pub async fn move_object(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    AppJson(body): AppJson<TransferBody>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/object/move", &headers)?;
    let to_bucket = body
        .destination_bucket
        .unwrap_or_else(|| body.bucket_id.clone());
    let target = Target::resolve(&s, who, &to_bucket, body.destination_key, false).await?;
    let (owner, owner_id) = access::owner(&target.who);
    let mut tx = identity::begin(&s.app.api_pool, &target.who, Access::ReadWrite).await?;
    let moved: Option<(Uuid, Option<Value>)> = sqlx::query_as(
        "update storage.objects set bucket_id = $3, name = $4, last_accessed_at = now(), \
           owner = case when $6::text is null then owner else $5 end, \
           owner_id = coalesce($6, owner_id) \
         where bucket_id = $1 and name = $2 returning id, metadata",
    )
    .bind(&body.bucket_id)
    .bind(&body.source_key)
    .bind(&to_bucket)
    .bind(&target.name)
    .bind(owner)
    .bind(owner_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| access::db_error(e, "key_already_exists", bucket_not_found()))?;
    let (id, metadata) = moved.ok_or_else(object_not_found)?;
    target.admits(metadata.as_ref())?;
    tx.commit().await?;
    Ok(Json(json!({
        "message": "Successfully moved",
        "Id": id,
        "Key": format!("{to_bucket}/{}", target.name),
    })))
}

/// `POST /object/copy` (+ `x-upsert`): reads the source as the caller (SELECT), copies its bytes
/// to a new version and inserts the destination row (INSERT, and UPDATE when upserting). The
/// destination bucket's MIME types and size limit apply as to an upload, before any byte is copied.
pub async fn copy(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    AppJson(body): AppJson<TransferBody>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/object/copy", &headers)?;
    let to_bucket = body
        .destination_bucket
        .unwrap_or_else(|| body.bucket_id.clone());
    let upsert = upload::upsert_requested(&headers);
    let target = Target::resolve(&s, who, &to_bucket, body.destination_key, upsert).await?;
    let mut tx = identity::begin(&s.app.api_pool, &target.who, Access::ReadWrite).await?;
    let source: Option<(Option<String>, Option<Value>, Option<Value>)> = sqlx::query_as(
        "select version, metadata, user_metadata from storage.objects where bucket_id = $1 and name = $2",
    )
    .bind(&body.bucket_id)
    .bind(&body.source_key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| access::db_error(e, "conflict", object_not_found()))?;
    let (Some(from), metadata, user_metadata) = source.ok_or_else(object_not_found)? else {
        return Err(object_not_found());
    };
    target.admits(metadata.as_ref())?;
    let version = store::new_version();
    s.store
        .copy(&store::location(&from), &store::location(&version))
        .await
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => object_not_found(),
            e => AppError::Internal(e.into()),
        })?;
    let id = upload::commit_version(
        &s,
        tx,
        &target,
        Uuid::new_v4(),
        &metadata.unwrap_or_else(|| json!({})),
        user_metadata.as_ref(),
        &version,
    )
    .await?;
    Ok(Json(json!({
        "Id": id,
        "Key": format!("{}/{}", target.bucket.id, target.name),
    })))
}
