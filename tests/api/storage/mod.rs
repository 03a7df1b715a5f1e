//! `/storage/v1`: buckets, uploads, downloads, listing, move/copy/remove, and RLS on
//! `storage.objects` deciding who may do what.

mod access;
mod bucket_rules;
mod buckets;
mod business;
mod keys;
mod objects;
mod s3;
mod serving;
mod signed;
mod sweep;
mod transfer;
mod unavailable;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::harness::TestApp;

/// Policies letting signed-in users write and read their own folder (`<uid>/…`) of bucket `home`.
const OWN_FOLDER: &str = "\
    create policy own_insert on storage.objects for insert to authenticated \
      with check (bucket_id = 'home' and (storage.foldername(name))[1] = auth.uid()::text); \
    create policy own_select on storage.objects for select to authenticated \
      using (bucket_id = 'home' and (storage.foldername(name))[1] = auth.uid()::text);";

/// A confirmed, signed-in user: (access token, user id).
pub async fn user(app: &TestApp, email: &str) -> (String, String) {
    let session = app.signup_confirmed(email, "Passw0rd!-long").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let id = session["user"]["id"].as_str().unwrap().to_owned();
    (token, id)
}

/// Bucket `home` under the [`OWN_FOLDER`] policies, and Alice, signed in: (token, id).
pub async fn home_with_alice(app: &TestApp) -> (String, String) {
    sqlx::raw_sql(OWN_FOLDER).execute(&app.pool).await.unwrap();
    create_bucket(app, "home", json!({})).await;
    user(app, "alice@example.com").await
}

/// `owner_id` and `owner` of the object `name` (any bucket).
pub async fn owner_of(app: &TestApp, name: &str) -> (Option<String>, Option<uuid::Uuid>) {
    sqlx::query_as("select owner_id, owner from storage.objects where name = $1")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A request to `/storage/v1{path}` with the anon apikey and `token` as the bearer (the service
/// key, the anon key or a user's access token).
pub fn call(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(&format!("/storage/v1{path}")))
        .header("apikey", &app.anon_key)
        .bearer_auth(token)
}

/// Creates a bucket as service_role with extra settings (`public`, limits).
pub async fn create_bucket(app: &TestApp, id: &str, settings: Value) -> Response {
    let mut body = json!({ "id": id, "name": id });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), settings.as_object()) {
        b.extend(extra.clone());
    }
    call(app, Method::POST, "/bucket", &app.service_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Uploads a raw body (as storage-js does for a Buffer or string).
pub async fn upload(
    app: &TestApp,
    token: &str,
    bucket: &str,
    name: &str,
    bytes: &[u8],
    content_type: &str,
) -> Response {
    call(
        app,
        Method::POST,
        &format!("/object/{bucket}/{name}"),
        token,
    )
    .header("content-type", content_type)
    .header("cache-control", "max-age=60")
    .body(bytes.to_vec())
    .send()
    .await
    .unwrap()
}

/// `PUT /object/{path}` (always replaces) with `text` as a `text/plain` body.
pub async fn replace_text(app: &TestApp, token: &str, path: &str, text: &str) -> Response {
    call(app, Method::PUT, &format!("/object/{path}"), token)
        .header("content-type", "text/plain")
        .body(text.to_owned())
        .send()
        .await
        .unwrap()
}

/// A multipart form as storage-js builds it for a Blob: `cacheControl`, then the file part with
/// the empty field name.
pub fn form(bytes: &[u8], content_type: &str) -> (String, Vec<u8>) {
    let boundary = "----bizbase-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n120\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{{\"k\":\"v\"}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"\"; filename=\"blob\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Asserts Storage's error shape: HTTP 400 (the quirk), the real status and code in the body.
pub async fn assert_storage_error(r: Response, status: &str, code: &str) -> Value {
    let http = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (http, body["statusCode"].as_str(), body["code"].as_str()),
        (400, Some(status), Some(code)),
        "unexpected answer: {body}"
    );
    body
}

/// How many blobs the object store holds (files under `<data dir>/storage`).
pub fn blobs(app: &TestApp) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { count(&p) } else { 1 }
                })
                .sum()
        })
    }
    count(&app.state.config.storage.dir)
}

/// How many rows `storage.objects` holds.
pub async fn rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from storage.objects")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}
