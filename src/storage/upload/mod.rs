//! `POST` / `PUT /object/{bucket}/{path}`: uploads, as storage-js sends them — a multipart form
//! whose file part has the empty field name (browsers' Blob/File), or the raw body (Buffer,
//! stream, string) with `content-type`, `cache-control` and `x-metadata` headers.
//!
//! The order makes a failed upload invisible: a dry-run insert in the caller's identity (rolled
//! back) lets RLS, the unique key and the bucket refuse before any byte is stored; the bytes are
//! then streamed to a fresh version with no transaction or pooled connection held (a slow upload
//! must not starve the API of connections); then, in a new transaction, the row is written for
//! real pointing at that version — RLS and the unique key decide again, so a key taken meanwhile
//! is still a duplicate — and it commits only after the store has the bytes durably. Any failure
//! deletes the new blob; a successful overwrite deletes the old one.

mod row;

pub use row::{checked, commit_version};

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, Request, State, multipart::MultipartError},
    http::{HeaderMap, StatusCode, header},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Storage, access,
    buckets::{self, Bucket},
    mime, names, store,
};
use crate::{
    db::identity::{self, Access, Identity},
    error::{AppError, AppResult},
};

/// `POST /object/{bucket}/{path}`: a new object; an existing key is `Duplicate` unless
/// `x-upsert: true`.
pub async fn create(
    State(s): State<Storage>,
    Path((bucket, name)): Path<(String, String)>,
    req: Request,
) -> AppResult<Json<Value>> {
    let upsert = upsert_requested(req.headers());
    upload(&s, bucket, name, upsert, req).await
}

/// `PUT /object/{bucket}/{path}`: `update()`, always an upsert.
pub async fn update(
    State(s): State<Storage>,
    Path((bucket, name)): Path<(String, String)>,
    req: Request,
) -> AppResult<Json<Value>> {
    upload(&s, bucket, name, true, req).await
}

/// Whether the request carries `x-upsert: true`.
pub fn upsert_requested(headers: &HeaderMap) -> bool {
    headers
        .get("x-upsert")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Where a new version of an object goes, and who writes it.
pub struct Target {
    /// The caller.
    pub who: Identity,
    /// The destination bucket.
    pub bucket: Bucket,
    /// The destination key.
    pub name: String,
    /// Whether an existing object is replaced (else it is `Duplicate`).
    pub upsert: bool,
    /// Largest accepted size, in bytes.
    pub limit: u64,
    /// Which existing object an upsert may replace.
    pub replaceable: Replaceable,
}

/// Which existing object an upsert may replace.
#[derive(Debug, Clone, Default)]
pub enum Replaceable {
    /// Whichever row-level security lets the writer update (the writer's own uploads).
    #[default]
    AsPolicies,
    /// A signed upload URL, written past row-level security: only an object its signer owns (for a
    /// signer without a user id — the service role, say — an object without an owner), or the very
    /// version the signer was allowed to update when signing. Otherwise a URL signed for a new path
    /// could later overwrite what someone else put there.
    SignedBy {
        /// The signer's user id.
        owner: Option<Uuid>,
        /// The version at the path when the URL was signed, if the signer could replace it.
        version: Option<String>,
    },
}

impl Replaceable {
    /// Whether the object now at the path (its owner and version) may be replaced.
    fn allows(&self, owner: Option<Uuid>, version: Option<&str>) -> bool {
        match self {
            Self::AsPolicies => true,
            Self::SignedBy {
                owner: signer,
                version: seen,
            } => owner == *signer || (seen.is_some() && version == seen.as_deref()),
        }
    }
}

/// Descriptive metadata of the bytes.
struct Described {
    content_type: String,
    cache_control: String,
    user_metadata: Option<Value>,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The name suffix of the empty object that keeps a folder listed (Supabase Studio's).
const FOLDER_PLACEHOLDER: &str = ".emptyFolderPlaceholder";

impl Target {
    /// The destination `bucket_id`/`name` written by `who`: the key checked, the bucket found
    /// (past RLS, as Supabase does) and its size limit capped by the global one. A folder
    /// placeholder must be empty (limit 0).
    pub async fn resolve(
        s: &Storage,
        who: Identity,
        bucket_id: &str,
        name: String,
        upsert: bool,
    ) -> AppResult<Self> {
        names::key(&name)?;
        let bucket = buckets::find(&s.app.pool, bucket_id).await?;
        let global = s.app.config.storage.file_size_limit;
        let limit = if name.ends_with(FOLDER_PLACEHOLDER) {
            0
        } else {
            bucket
                .file_size_limit
                .and_then(|l| u64::try_from(l).ok())
                .map_or(global, |l| l.min(global))
        };
        Ok(Self {
            who,
            bucket,
            name,
            upsert,
            limit,
            replaceable: Replaceable::default(),
        })
    }

    /// Whether the bucket takes content of this type. A folder placeholder is taken whatever its
    /// type, as in Supabase: it holds no bytes to serve.
    fn admits_type(&self, content_type: &str) -> AppResult<()> {
        if self.name.ends_with(FOLDER_PLACEHOLDER) {
            return Ok(());
        }
        mime::mime_allowed(content_type, self.bucket.allowed_mime_types.as_deref())
    }

    /// Whether an object already stored (copied or moved here) meets this destination's rules, as
    /// an upload of it would: its MIME type among the bucket's, its size within the limit. An object
    /// whose metadata does not say its type is refused by a bucket that restricts types.
    pub fn admits(&self, metadata: Option<&Value>) -> AppResult<()> {
        let field = |name: &str| metadata.and_then(|m| m.get(name));
        let mimetype = field("mimetype")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.admits_type(mimetype)?;
        match field("size").and_then(Value::as_u64) {
            Some(size) if size > self.limit => Err(AppError::PayloadTooLarge),
            _ => Ok(()),
        }
    }
}

async fn upload(
    s: &Storage,
    bucket_id: String,
    name: String,
    upsert: bool,
    req: Request,
) -> AppResult<Json<Value>> {
    let who = access::caller(
        &s.app,
        req.method(),
        &format!("/object/{bucket_id}/{name}"),
        req.headers(),
    )?;
    let target = Target::resolve(s, who, &bucket_id, name, upsert).await?;
    receive(s, target, req).await
}

/// Reads the upload in `req` (multipart form or raw body) and stores it at `target`.
pub async fn receive(s: &Storage, target: Target, req: Request) -> AppResult<Json<Value>> {
    let headers = req.headers().clone();
    let content_type = header_text(&headers, header::CONTENT_TYPE.as_str());
    if content_type.is_some_and(|ct| mime::essence(ct) == "multipart/form-data") {
        let multipart = Multipart::from_request(req, &())
            .await
            .map_err(|e| AppError::bad_request("invalid_request", e.body_text()))?;
        return from_form(s, target, multipart).await;
    }
    let declared: Option<u64> =
        header_text(&headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > target.limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let user_metadata = match header_text(&headers, "x-metadata") {
        None => None,
        Some(b64) => Some(
            STANDARD
                .decode(b64)
                .ok()
                .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
                .ok_or_else(|| {
                    AppError::bad_request("invalid_request", "x-metadata must be base64 of JSON")
                })?,
        ),
    };
    let described = Described {
        content_type: content_type
            .unwrap_or("application/octet-stream")
            .to_owned(),
        cache_control: header_text(&headers, header::CACHE_CONTROL.as_str())
            .unwrap_or("no-cache")
            .to_owned(),
        user_metadata,
    };
    let body = req.into_body().into_data_stream().map_err(body_error);
    store_object(s, target, described, body).await
}

/// A failed read of the raw body: past the server's body limit it is `EntityTooLarge`.
fn body_error(e: axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge;
        }
        source = err.source();
    }
    AppError::bad_request("invalid_request", format!("reading the body failed: {e}"))
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("invalid_request", e.body_text())
    }
}

/// Reads the form fields before the file part (`cacheControl`, `metadata`, `contentType`), then
/// streams the first file part.
async fn from_form(s: &Storage, target: Target, mut form: Multipart) -> AppResult<Json<Value>> {
    let mut cache_control = None;
    let mut user_metadata = None;
    let mut content_type: Option<String> = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let field_name = field.name().unwrap_or("").to_owned();
        if field.file_name().is_some() || field_name.is_empty() {
            let described = Described {
                content_type: content_type
                    .or_else(|| field.content_type().map(str::to_owned))
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                cache_control: format!(
                    "max-age={}",
                    cache_control.unwrap_or_else(|| "3600".to_owned())
                ),
                user_metadata,
            };
            return store_object(s, target, described, field.map_err(multipart_error)).await;
        }
        let text = field.text().await.map_err(multipart_error)?;
        match field_name.as_str() {
            "cacheControl" => cache_control = Some(text.trim().to_owned()),
            "contentType" => content_type = Some(text.trim().to_owned()),
            "metadata" => {
                user_metadata = Some(serde_json::from_str(&text).map_err(|_| {
                    AppError::bad_request("invalid_request", "metadata must be JSON")
                })?);
            }
            _ => {}
        }
    }
    Err(AppError::bad_request(
        "invalid_request",
        "the form has no file part",
    ))
}

async fn store_object<S>(
    s: &Storage,
    target: Target,
    described: Described,
    body: S,
) -> AppResult<Json<Value>>
where
    S: Stream<Item = Result<Bytes, AppError>>,
{
    target.admits_type(&described.content_type)?;
    let version = store::new_version();
    let location = store::location(&version);
    let id = Uuid::new_v4();
    checked(s, &target, id, described.user_metadata.as_ref(), &version).await?;
    let body = std::pin::pin!(body);
    let written = store::write(&*s.store, &location, body, target.limit).await?;
    // A new transaction: none is held open (nor a pooled connection) while the bytes arrive.
    let tx = match identity::begin(&s.app.api_pool, &target.who, Access::ReadWrite).await {
        Ok(tx) => tx,
        Err(e) => {
            store::forget(&*s.store, [version.clone()]).await;
            return Err(e.into());
        }
    };
    let metadata = json!({
        "eTag": store::etag(&version),
        "size": written.size,
        "mimetype": described.content_type,
        "cacheControl": described.cache_control,
        "lastModified": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "contentLength": written.size,
        "httpStatusCode": 200,
    });
    let id = commit_version(
        s,
        tx,
        &target,
        id,
        &metadata,
        described.user_metadata.as_ref(),
        &version,
    )
    .await?;
    Ok(Json(json!({
        "Id": id,
        "Key": format!("{}/{}", target.bucket.id, target.name),
    })))
}
