//! Signed URLs: signing under RLS, fetching and uploading with the token alone, and tokens that
//! are expired, tampered with, or for another path or use.

mod downloads;
mod uploads;

use reqwest::{Method, Response};

use crate::harness::TestApp;

/// A request to a path relative to `/storage/v1` with no apikey and no Authorization.
fn keyless(app: &TestApp, method: Method, relative: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(&format!("/storage/v1{relative}")))
}

/// Uploads `body` as text with a signed upload token, no keys.
async fn put_signed(app: &TestApp, path: &str, token: &str, body: &str) -> Response {
    keyless(
        app,
        Method::PUT,
        &format!("/object/upload/sign/{path}?token={token}"),
    )
    .header("content-type", "text/plain")
    .body(body.to_owned())
    .send()
    .await
    .unwrap()
}
