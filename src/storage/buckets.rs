//! `/storage/v1/bucket`: create, list, get, update, empty and delete buckets. Each runs in the
//! caller's identity transaction, so RLS on `storage.buckets` decides (by default only
//! service_role passes, as in Supabase).

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, Method},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{
    Storage,
    access::{self, bucket_not_found},
    mime, names, sizes, store,
};
use crate::{
    db::identity::{self, Access, DbRole},
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// A bucket as uploads and downloads need it, read past RLS (as storage-api's admin lookup).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Bucket {
    /// Its id.
    pub id: String,
    /// Whether objects are readable by anyone through `/object/public/…`.
    pub public: bool,
    /// Largest object, in bytes.
    pub file_size_limit: Option<i64>,
    /// Accepted MIME types (`type/*` allowed); `None` or empty accepts all.
    pub allowed_mime_types: Option<Vec<String>>,
}

/// The bucket `id`, without RLS, or `Bucket not found`.
pub async fn find(pool: &PgPool, id: &str) -> AppResult<Bucket> {
    sqlx::query_as(
        "select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(bucket_not_found)
}

/// The JSON of a `storage.buckets` row as storage-api answers it.
macro_rules! bucket_json {
    () => {
        "jsonb_build_object('id', id, 'name', name, 'owner', coalesce(owner::text, owner_id, ''), \
         'public', public, 'type', 'STANDARD', 'file_size_limit', file_size_limit, \
         'allowed_mime_types', allowed_mime_types, 'created_at', created_at, 'updated_at', updated_at)"
    };
}

/// The sort key of `GET /bucket` (`$3` the column, as text so one expression serves all).
macro_rules! sort_key {
    () => {
        "case $3 when 'name' then name when 'created_at' then to_char(created_at, 'YYYYMMDDHH24MISSUS') \
         when 'updated_at' then to_char(updated_at, 'YYYYMMDDHH24MISSUS') else id end"
    };
}

const LIST_SQL: &str = concat!(
    "select coalesce(jsonb_agg(j order by n), '[]') from (select j, n from (select ",
    bucket_json!(),
    " as j, row_number() over (order by case when $4 = 'desc' then null else ",
    sort_key!(),
    " end asc, case when $4 = 'desc' then ",
    sort_key!(),
    " end desc, id) as n from storage.buckets \
     where $5 = '' or name ilike '%' || replace(replace(replace($5, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%') r \
     order by n limit $1 offset $2) b"
);

const GET_SQL: &str = concat!(
    "select ",
    bucket_json!(),
    " from storage.buckets where id = $1"
);

/// Body of `POST /bucket` and `PUT /bucket/{id}`.
#[derive(Debug, Deserialize)]
pub struct BucketBody {
    id: Option<String>,
    name: Option<String>,
    public: Option<bool>,
    /// `None` when absent, `Some(Value::Null)` when given as null (which clears the limit).
    #[serde(default, deserialize_with = "present")]
    file_size_limit: Option<Value>,
    /// Likewise: null clears the list.
    #[serde(default, deserialize_with = "present")]
    allowed_mime_types: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `file_size_limit` as bytes: a number, a string with a decimal unit (`"1.5MB"`, see
/// [`sizes::parse_decimal_size`]), or null; above the global limit (`global`) it is
/// `EntityTooLarge`, as Supabase answers.
fn size_limit(value: Option<&Value>, global: u64) -> AppResult<Option<i64>> {
    let invalid = || {
        AppError::bad_request(
            "invalid_request",
            "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B",
        )
    };
    let bytes = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64().filter(|n| *n > 0).ok_or_else(invalid)?,
        Some(Value::String(s)) => sizes::parse_decimal_size(s)
            .and_then(|n| i64::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(invalid)?,
        Some(_) => return Err(invalid()),
    };
    if u64::try_from(bytes).is_ok_and(|b| b > global) {
        return Err(AppError::PayloadTooLarge);
    }
    Ok(Some(bytes))
}

/// `allowed_mime_types` as stored (see [`mime::allowed_list`]): `[]` stays `[]` (any type), null
/// is none (any type).
fn mime_list(value: Option<&Value>) -> AppResult<Option<Vec<String>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let list: Vec<String> = serde_json::from_value(v.clone()).map_err(|_| {
                AppError::bad_request(
                    "invalid_request",
                    "allowed_mime_types must be an array of media types",
                )
            })?;
            mime::allowed_list(&list).map(Some)
        }
    }
}

/// `POST /bucket`: `{"name": <id>}`; a taken id is `BucketAlreadyExists`.
pub async fn create(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    AppJson(body): AppJson<BucketBody>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket", &headers)?;
    let id = body
        .id
        .clone()
        .or_else(|| body.name.clone())
        .ok_or_else(|| AppError::bad_request("missing_parameter", "Bucket name is required"))?;
    let name = body.name.clone().unwrap_or_else(|| id.clone());
    names::bucket(&id)?;
    names::bucket(&name)?;
    let limit = size_limit(
        body.file_size_limit.as_ref(),
        s.app.config.storage.file_size_limit,
    )?;
    let mime_types = mime_list(body.allowed_mime_types.as_ref())?;
    let (owner, owner_id) = access::owner(&who);
    let mut tx = identity::begin(&s.app.api_pool, &who, Access::ReadWrite).await?;
    sqlx::query(
        "insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&name)
    .bind(owner)
    .bind(owner_id)
    .bind(body.public.unwrap_or(false))
    .bind(limit)
    .bind(mime_types)
    .execute(&mut *tx)
    .await
    .map_err(|e| access::db_error(e, "bucket_already_exists", bucket_not_found()))?;
    tx.commit().await?;
    Ok(Json(json!({ "name": id })))
}

/// Query of `GET /bucket`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    search: Option<String>,
    #[serde(rename = "sortColumn")]
    sort_column: Option<String>,
    #[serde(rename = "sortOrder")]
    sort_order: Option<String>,
}

/// `GET /bucket`: the buckets the caller may see.
pub async fn list(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket", &headers)?;
    let mut tx = s.app.reads.begin(&who).await?;
    let rows: Value = sqlx::query_scalar(LIST_SQL)
        .bind(q.limit.filter(|l| *l >= 0))
        .bind(q.offset.unwrap_or(0).max(0))
        .bind(q.sort_column.unwrap_or_else(|| "id".into()))
        .bind(q.sort_order.unwrap_or_default().to_ascii_lowercase())
        .bind(q.search.unwrap_or_default())
        .fetch_one(tx.conn()?)
        .await?;
    tx.finish();
    Ok(Json(rows))
}

/// `GET /bucket/{id}`.
pub async fn get(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket", &headers)?;
    let mut tx = s.app.reads.begin(&who).await?;
    let row: Option<Value> = sqlx::query_scalar(GET_SQL)
        .bind(&id)
        .fetch_optional(tx.conn()?)
        .await?;
    tx.finish();
    row.map(Json).ok_or_else(bucket_not_found)
}

/// `PUT /bucket/{id}`: changes `public`, `file_size_limit` and `allowed_mime_types` (each only
/// when given).
pub async fn update(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    AppJson(body): AppJson<BucketBody>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket", &headers)?;
    let limit = size_limit(
        body.file_size_limit.as_ref(),
        s.app.config.storage.file_size_limit,
    )?;
    let mime_types = mime_list(body.allowed_mime_types.as_ref())?;
    let mut tx = identity::begin(&s.app.api_pool, &who, Access::ReadWrite).await?;
    let updated = sqlx::query(
        "update storage.buckets set public = coalesce($2, public), \
           file_size_limit = case when $3 then $4 else file_size_limit end, \
           allowed_mime_types = case when $5 then $6 else allowed_mime_types end \
         where id = $1",
    )
    .bind(&id)
    .bind(body.public)
    .bind(body.file_size_limit.is_some())
    .bind(limit)
    .bind(body.allowed_mime_types.is_some())
    .bind(mime_types)
    .execute(&mut *tx)
    .await
    .map_err(|e| access::db_error(e, "bucket_already_exists", bucket_not_found()))?;
    if updated.rows_affected() == 0 {
        return Err(bucket_not_found());
    }
    tx.commit().await?;
    Ok(Json(json!({ "message": "Successfully updated" })))
}

/// `POST /bucket/{id}/empty`: deletes every object of the bucket (service_role only, as in
/// Supabase); their blobs go once the rows are gone.
pub async fn empty(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket/empty", &headers)?;
    if who.role != DbRole::ServiceRole {
        return Err(AppError::Forbidden {
            code: "access_denied",
            message: "Access denied: Invalid role".into(),
        });
    }
    let mut tx = identity::begin(&s.app.api_pool, &who, Access::ReadWrite).await?;
    let exists: Option<String> = sqlx::query_scalar("select id from storage.buckets where id = $1")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(bucket_not_found());
    }
    let versions: Vec<Option<String>> =
        sqlx::query_scalar("delete from storage.objects where bucket_id = $1 returning version")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    store::forget(&*s.store, versions.into_iter().flatten()).await;
    Ok(Json(json!({ "message": "Successfully emptied" })))
}

/// `DELETE /bucket/{id}`: only an empty bucket (else `ResourceNotEmpty`).
pub async fn remove(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let who = access::caller(&s.app, &method, "/bucket", &headers)?;
    let mut tx = identity::begin(&s.app.api_pool, &who, Access::ReadWrite).await?;
    let not_empty = AppError::Conflict {
        code: "resource_not_empty",
        message: "The bucket you tried to delete is not empty".into(),
    };
    let deleted = sqlx::query("delete from storage.buckets where id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(|e| access::db_error(e, "resource_not_empty", not_empty))?;
    if deleted.rows_affected() == 0 {
        return Err(bucket_not_found());
    }
    tx.commit().await?;
    Ok(Json(json!({ "message": "Successfully deleted" })))
}
