//! Signed URLs (`reference/supabase-api.md` §4.3, §4.7): `createSignedUrl(s)` and
//! `createSignedUploadUrl`/`uploadToSignedUrl`.
//!
//! Signing runs in the caller's identity transaction, so RLS decides who may hand out a URL: a
//! download URL needs the object to be visible (SELECT), an upload URL needs a dry-run write of
//! the row to pass (INSERT, plus SELECT and UPDATE with upsert). The URL then carries a JWT signed
//! with the server's signer naming `<bucket>/<path>`, a scope and an expiry; whoever holds it may
//! fetch or upload that one path until it expires, without an apikey or a session.

use axum::{
    Json,
    extract::{Path, RawQuery, Request, State},
    http::{HeaderMap, Method},
    response::Response,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Storage,
    access::{self, object_not_found},
    download, store,
    upload::{self, Target},
};
use crate::{
    app::AppState,
    auth::{crypto, jwt::JwtError},
    db::identity::{DbRole, Identity},
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// How long a signed upload URL is valid, as on the Supabase platform (2 hours).
const UPLOAD_URL_LIFETIME_SECS: i64 = 2 * 60 * 60;

/// What a signed URL lets its bearer do; a token of one scope is refused for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Scope {
    Download,
    Upload,
}

/// The claims of a signed URL token (storage-api's `SignedToken` / `SignedUploadToken`).
#[derive(Debug, Serialize, Deserialize)]
struct UrlClaims {
    /// `<bucket>/<path>`, the one object the token is good for.
    url: String,
    scope: Scope,
    /// Upload tokens: the `sub` of the signer, who will own the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// Upload tokens: whether an existing object may be replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upsert: Option<bool>,
    /// Upsert tokens: the version at the path when signing, which the signer could replace (an
    /// object the signer owns may be replaced too; any other may not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaces: Option<String>,
    iat: i64,
    exp: i64,
}

impl UrlClaims {
    fn new(url: String, scope: Scope, lifetime_secs: i64) -> Self {
        let iat = Utc::now().timestamp();
        Self {
            url,
            scope,
            owner: None,
            upsert: None,
            replaces: None,
            iat,
            exp: iat.saturating_add(lifetime_secs),
        }
    }
}

/// Body of `POST /object/sign/{bucket}/{path}` and `POST /object/sign/{bucket}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignBody {
    expires_in: Option<Value>,
    paths: Option<Vec<String>>,
    transform: Option<Value>,
}

impl SignBody {
    /// `expiresIn`: a whole number of seconds, at least 1.
    fn lifetime(&self) -> AppResult<i64> {
        self.expires_in
            .as_ref()
            .and_then(Value::as_i64)
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                AppError::bad_request("invalid_request", "body/expiresIn must be an integer >= 1")
            })
    }
}

fn invalid_jwt(message: &'static str) -> AppError {
    AppError::bad_request("invalid_jwt", message)
}

fn sign(app: &AppState, claims: &UrlClaims) -> AppResult<String> {
    Ok(app.auth.signer.sign(claims)?)
}

/// The claims of `token` if it is a valid, unexpired token of `scope` for `<bucket>/<name>`.
/// A bad or expired token is `InvalidJWT`, a token for another path or use `InvalidSignature`
/// (both with real status 400, as storage-api answers).
fn verify(
    app: &AppState,
    token: &str,
    bucket: &str,
    name: &str,
    scope: Scope,
) -> AppResult<UrlClaims> {
    const EXPIRED: &str = "\"exp\" claim timestamp check failed";
    let claims = app.auth.signer.verify(token).map_err(|e| match e {
        JwtError::Expired => invalid_jwt(EXPIRED),
        JwtError::Invalid => invalid_jwt("signature verification failed"),
    })?;
    let claims: UrlClaims = serde_json::from_value(claims)
        .map_err(|_| invalid_jwt("the token is not a signed URL token"))?;
    // The signer allows clock-skew leeway for others' tokens; these are our own, so no leeway.
    if claims.exp <= Utc::now().timestamp() {
        return Err(invalid_jwt(EXPIRED));
    }
    let wanted = format!("{bucket}/{name}");
    if claims.scope != scope || !crypto::ct_eq(claims.url.as_bytes(), wanted.as_bytes()) {
        return Err(AppError::bad_request(
            "invalid_signature",
            "Invalid signature",
        ));
    }
    Ok(claims)
}

/// The `token` query parameter.
fn token_in(query: Option<&str>) -> AppResult<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "token"))
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_request",
                "querystring must have required property 'token'",
            )
        })
}

/// `POST /object/sign/{bucket}/{path}` `{"expiresIn"}` (`createSignedUrl`): needs the object to
/// be visible to the caller.
pub async fn sign_one(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    AppJson(body): AppJson<SignBody>,
) -> AppResult<Json<Value>> {
    let lifetime = body.lifetime()?;
    if body
        .transform
        .as_ref()
        .is_some_and(|t| t.as_object().is_none_or(|o| !o.is_empty()))
    {
        return Err(AppError::bad_request(
            "invalid_request",
            "image transformations are not supported",
        ));
    }
    let path = format!("/object/sign/{bucket}/{name}");
    let who = access::caller(&s.app, &method, &path, &headers)?;
    download::visible(&s, &who, &bucket, &name)
        .await?
        .ok_or_else(object_not_found)?;
    let url = format!("{bucket}/{name}");
    let token = sign(
        &s.app,
        &UrlClaims::new(url.clone(), Scope::Download, lifetime),
    )?;
    Ok(Json(
        json!({ "signedURL": format!("/object/sign/{url}?token={token}") }),
    ))
}

/// `POST /object/sign/{bucket}` `{"expiresIn","paths"}` (`createSignedUrls`): one entry per path,
/// an error for those missing or invisible to the caller.
pub async fn sign_many(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path(bucket): Path<String>,
    AppJson(body): AppJson<SignBody>,
) -> AppResult<Json<Value>> {
    let lifetime = body.lifetime()?;
    let paths = body.paths.unwrap_or_default();
    if paths.is_empty() {
        return Err(AppError::bad_request(
            "invalid_request",
            "body/paths must have at least 1 item",
        ));
    }
    let who = access::caller(&s.app, &method, &format!("/object/sign/{bucket}"), &headers)?;
    let mut tx = s.app.reads.begin(&who).await?;
    let visible: Vec<String> = sqlx::query_scalar(
        "select name from storage.objects where bucket_id = $1 and name = any($2)",
    )
    .bind(&bucket)
    .bind(&paths)
    .fetch_all(tx.conn()?)
    .await
    .map_err(|e| access::db_error(e, "conflict", object_not_found()))?;
    tx.finish();
    let mut signed = Vec::with_capacity(paths.len());
    for path in paths {
        signed.push(if visible.contains(&path) {
            let url = format!("{bucket}/{path}");
            let token = sign(&s.app, &UrlClaims::new(url.clone(), Scope::Download, lifetime))?;
            json!({ "error": null, "path": path, "signedURL": format!("/object/sign/{url}?token={token}") })
        } else {
            json!({
                "error": "Either the object does not exist or you do not have access to it",
                "path": path,
                "signedURL": null,
            })
        });
    }
    Ok(Json(Value::Array(signed)))
}

/// `GET`/`HEAD /object/sign/{bucket}/{path}?token=…[&download]`: the object, without apikey or
/// session, as the other downloads serve it (ranges, ETags), plus `Expires` from the token and a
/// `Cache-Control` lifetime that ends with it.
pub async fn download(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let token = token_in(query.as_deref())?;
    let claims = verify(&s.app, &token, &bucket, &name, Scope::Download)?;
    let row = download::row_past_rls(&s, &bucket, &name).await?;
    let query = query.as_deref();
    download::serve(&*s.store, &row, &method, &headers, query, Some(claims.exp)).await
}

/// `POST /object/upload/sign/{bucket}/{path}` [`x-upsert: true`] (`createSignedUploadUrl`): a
/// URL valid for 2 hours, handed out only if the caller could upload there now (a dry-run write
/// in their transaction, rolled back).
pub async fn sign_upload(
    State(s): State<Storage>,
    method: Method,
    headers: HeaderMap,
    Path((bucket, name)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let path = format!("/object/upload/sign/{bucket}/{name}");
    let who = access::caller(&s.app, &method, &path, &headers)?;
    let upsert = upload::upsert_requested(&headers);
    let target = Target::resolve(&s, who, &bucket, name, upsert).await?;
    let replaces =
        upload::checked(&s, &target, Uuid::new_v4(), None, &store::new_version()).await?;
    let url = format!("{bucket}/{}", target.name);
    let mut claims = UrlClaims::new(url.clone(), Scope::Upload, UPLOAD_URL_LIFETIME_SECS);
    claims.owner = access::owner(&target.who).1;
    claims.upsert = Some(upsert);
    claims.replaces = replaces;
    let token = sign(&s.app, &claims)?;
    Ok(Json(json!({
        "url": format!("/object/upload/sign/{url}?token={token}"),
        "token": token,
    })))
}

/// `PUT /object/upload/sign/{bucket}/{path}?token=…` (`uploadToSignedUrl`, multipart or raw
/// body): the upload runs as service_role on behalf of the token's owner, who owns the object;
/// upsert comes from the token (an `x-upsert` header is ignored).
pub async fn upload(
    State(s): State<Storage>,
    Path((bucket, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> AppResult<Json<Value>> {
    let token = token_in(query.as_deref())?;
    let claims = verify(&s.app, &token, &bucket, &name, Scope::Upload)?;
    let on_behalf_of = claims
        .owner
        .as_ref()
        .map_or_else(|| json!({}), |sub| json!({ "sub": sub }));
    let who = Identity::new(DbRole::ServiceRole, on_behalf_of);
    let upsert = claims.upsert.unwrap_or(false);
    let mut target = Target::resolve(&s, who, &bucket, name, upsert).await?;
    target.replaceable = upload::Replaceable::SignedBy {
        owner: claims
            .owner
            .as_deref()
            .and_then(|o| Uuid::parse_str(o).ok()),
        version: claims.replaces,
    };
    let Json(stored) = upload::receive(&s, target, req).await?;
    Ok(Json(json!({ "Key": stored["Key"] })))
}
