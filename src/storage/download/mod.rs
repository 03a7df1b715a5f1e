//! Downloads (`GET`/`HEAD /object/{bucket}/{path}`, `/object/authenticated/…`,
//! `/object/public/…`) with ranges and conditional requests, and `GET /object/info/…`.
//!
//! The row is read in the caller's identity transaction (RLS SELECT decides); objects of a public
//! bucket are readable by anyone, so their row is read past RLS.

mod headers;

use axum::{
    Json,
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Storage,
    access::{self, bucket_not_found, object_not_found},
    buckets, store,
};
use crate::{
    db::identity::Identity,
    error::{AppError, AppResult},
};

/// An object's row, as downloads need it.
#[derive(Debug, sqlx::FromRow)]
pub struct ObjectRow {
    id: Uuid,
    bucket_id: String,
    name: String,
    version: Option<String>,
    metadata: Option<Value>,
    user_metadata: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ROW_SQL: &str = "select id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at \
     from storage.objects where bucket_id = $1 and name = $2";

impl ObjectRow {
    fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }

    fn size(&self) -> u64 {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("size"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}

/// The row as the caller may see it (RLS SELECT decides).
pub(super) async fn visible(
    s: &Storage,
    who: &Identity,
    bucket: &str,
    name: &str,
) -> AppResult<Option<ObjectRow>> {
    let mut tx = s.app.reads.begin(who).await?;
    let row = sqlx::query_as(ROW_SQL)
        .bind(bucket)
        .bind(name)
        .fetch_optional(tx.conn()?)
        .await
        .map_err(|e| access::db_error(e, "conflict", object_not_found()))?;
    tx.finish();
    Ok(row)
}

/// The row of an object in a public bucket, past RLS; a private bucket is `Bucket not found`.
async fn public_row(s: &Storage, bucket: &str, name: &str) -> AppResult<ObjectRow> {
    let b = buckets::find(&s.app.pool, bucket).await?;
    if !b.public {
        return Err(bucket_not_found());
    }
    row_past_rls(s, bucket, name).await
}

/// The row read past RLS, for callers already authorized otherwise (public bucket, signed URL).
pub(super) async fn row_past_rls(s: &Storage, bucket: &str, name: &str) -> AppResult<ObjectRow> {
    sqlx::query_as(ROW_SQL)
        .bind(bucket)
        .bind(name)
        .fetch_optional(&s.app.pool)
        .await?
        .ok_or_else(object_not_found)
}

/// The row for an authenticated download: what RLS shows, else (public buckets) what anyone may
/// read. Only when neither has it is the bucket looked up, so a missing bucket is `NoSuchBucket`
/// (as in Supabase) at no cost to downloads that succeed; an existing bucket that hides the object
/// from the caller says only `NoSuchKey`.
async fn readable(
    s: &Storage,
    method: &Method,
    headers: &HeaderMap,
    bucket: &str,
    name: &str,
) -> AppResult<ObjectRow> {
    let who = access::caller_or_anon(&s.app, method, &format!("/object/{bucket}/{name}"), headers);
    if let Some(row) = visible(s, &who, bucket, name).await? {
        return Ok(row);
    }
    if buckets::find(&s.app.pool, bucket).await?.public {
        row_past_rls(s, bucket, name).await
    } else {
        Err(object_not_found())
    }
}

/// `GET`/`HEAD /object/{bucket}/{path}` and `/object/authenticated/…`.
pub async fn authenticated(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let row = readable(&s, &method, &headers, &bucket, &name).await?;
    serve(&*s.store, &row, &method, &headers, query.as_deref(), None).await
}

/// `GET`/`HEAD /object/public/{bucket}/{path}`: public buckets only, no token needed.
pub async fn public(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let row = public_row(&s, &bucket, &name).await?;
    serve(&*s.store, &row, &method, &headers, query.as_deref(), None).await
}

/// `GET /object/info/{bucket}/{path}` (and `/info/authenticated/…`).
pub async fn info(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let row = readable(&s, &method, &headers, &bucket, &name).await?;
    Ok(Json(info_json(&row)))
}

/// `GET /object/info/public/{bucket}/{path}`.
pub async fn public_info(
    State(s): State<Storage>,
    Path((bucket, name)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let row = public_row(&s, &bucket, &name).await?;
    Ok(Json(info_json(&row)))
}

fn info_json(row: &ObjectRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "bucket_id": row.bucket_id,
        "size": row.size(),
        "content_type": row.meta_str("mimetype"),
        "cache_control": row.meta_str("cacheControl"),
        "etag": row.meta_str("eTag"),
        "metadata": row.user_metadata,
        "last_modified": row.updated_at,
        "created_at": row.created_at,
    })
}

/// A `Range: bytes=…` header: `a-b`, `a-` or `-n`. Several ranges, other units or nonsense are
/// ignored (the whole object is sent, as HTTP allows).
fn parse_range(headers: &HeaderMap) -> Option<GetRange> {
    let raw = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = raw.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (from, to) = spec.split_once('-')?;
    match (from.trim(), to.trim()) {
        ("", n) => Some(GetRange::Suffix(n.parse().ok()?)),
        (a, "") => Some(GetRange::Offset(a.parse().ok()?)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (b >= a).then(|| GetRange::Bounded(a..b.saturating_add(1)))
        }
    }
}

/// The byte range `[start, end)` a valid range selects in an object of `size` bytes, or `None`
/// when it is unsatisfiable.
fn resolve(range: &GetRange, size: u64) -> Option<(u64, u64)> {
    let (start, end) = match range {
        GetRange::Bounded(r) => (r.start, r.end.min(size)),
        GetRange::Offset(o) => (*o, size),
        GetRange::Suffix(n) => (size.saturating_sub(*n), size),
    };
    (start < end).then_some((start, end))
}

fn set(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// Sends the object's bytes (or headers for `HEAD`), honouring `Range`, `If-None-Match` and
/// `?download`. `expires` is the end (Unix seconds) of a signed URL's validity: its response
/// says so (`Expires`) and may be cached no longer.
pub(super) async fn serve(
    store: &dyn ObjectStore,
    row: &ObjectRow,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    expires: Option<i64>,
) -> AppResult<Response> {
    let size = row.size();
    let etag = row.meta_str("eTag").unwrap_or("").to_owned();
    let last_modified = row
        .updated_at
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || (!etag.is_empty() && t == etag))
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let range = parse_range(headers);
        let span = match &range {
            None => None,
            Some(r) => match resolve(r, size) {
                Some(span) => Some(span),
                None => {
                    let mut refused = AppError::bad_request(
                        "invalid_range",
                        "The requested range is not satisfiable",
                    )
                    .into_response();
                    set(
                        &mut refused,
                        header::CONTENT_RANGE,
                        &format!("bytes */{size}"),
                    );
                    return Ok(refused);
                }
            },
        };
        let (start, end) = span.unwrap_or((0, size));
        let mut response = if *method == Method::HEAD {
            Response::new(Body::empty())
        } else {
            let version = row.version.as_deref().ok_or_else(object_not_found)?;
            let options = GetOptions {
                range: span.map(|(a, b)| GetRange::Bounded(a..b)),
                ..GetOptions::default()
            };
            let got = match store.get_opts(&store::location(version), options).await {
                Ok(got) => got,
                // The row was replaced or removed between reading it and reading its bytes.
                Err(object_store::Error::NotFound { .. }) => return Err(object_not_found()),
                Err(e) => return Err(AppError::Internal(e.into())),
            };
            Response::new(body_of(got))
        };
        if span.is_some() {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{}/{size}", end - 1),
            );
            // A compressed partial body would no longer match Content-Range.
            set(&mut response, header::CONTENT_ENCODING, "identity");
        }
        set(
            &mut response,
            header::CONTENT_LENGTH,
            &(end - start).to_string(),
        );
        let content_type = headers::served_content_type(
            row.meta_str("mimetype")
                .unwrap_or("application/octet-stream"),
        );
        set(&mut response, header::CONTENT_TYPE, content_type);
        if headers::script_capable(content_type) {
            set(
                &mut response,
                header::CONTENT_SECURITY_POLICY,
                headers::SANDBOX,
            );
        }
        if let Some(d) = headers::disposition(query) {
            set(&mut response, header::CONTENT_DISPOSITION, &d);
        }
        response
    };
    set(&mut response, header::ETAG, &etag);
    set(&mut response, header::LAST_MODIFIED, &last_modified);
    let stored_cache = row.meta_str("cacheControl");
    match expires {
        None => set(
            &mut response,
            header::CACHE_CONTROL,
            stored_cache.unwrap_or("no-cache"),
        ),
        Some(exp) => {
            let left = u64::try_from(exp.saturating_sub(Utc::now().timestamp())).unwrap_or(0);
            let cache = headers::signed_cache_control(stored_cache, left);
            set(&mut response, header::CACHE_CONTROL, &cache);
            if let Some(at) = DateTime::from_timestamp(exp, 0) {
                let at = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                set(&mut response, header::EXPIRES, &at);
            }
        }
    }
    set(&mut response, header::ACCEPT_RANGES, "bytes");
    Ok(response)
}

/// Bytes read from a local file per step of a download.
const FILE_READ_BYTES: u64 = 512 * 1024;

/// The response body of `got`. A local file is read in large steps on the blocking pool, straight
/// into the (not pre-zeroed) buffer that becomes the body chunk: object_store's own stream of a
/// local file reads 8 KiB at a time, and `tokio::fs` would copy each step once more. Other stores
/// stream as they deliver.
fn body_of(got: GetResult) -> Body {
    let range = got.range.clone();
    match got.payload {
        GetResultPayload::File(file, _) => {
            let state = (Some(file), Some(range.start), range.end - range.start);
            let stream = futures_util::stream::try_unfold(state, |(file, seek, left)| async move {
                let Some(mut file) = file.filter(|_| left > 0) else {
                    return Ok::<_, std::io::Error>(None);
                };
                let n = left.min(FILE_READ_BYTES);
                let (file, chunk) = tokio::task::spawn_blocking(move || {
                    use std::io::{Read, Seek, SeekFrom};
                    if let Some(start) = seek {
                        file.seek(SeekFrom::Start(start))?;
                    }
                    let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
                    if ((&mut file).take(n).read_to_end(&mut buf)? as u64) < n {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                    }
                    Ok((file, bytes::Bytes::from(buf)))
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok(Some((chunk, (Some(file), None, left - n))))
            });
            Body::from_stream(stream)
        }
        _ => Body::from_stream(got.into_stream().map_err(axum::Error::new)),
    }
}
