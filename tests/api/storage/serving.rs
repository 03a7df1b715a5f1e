//! What downloads send besides the bytes: the served content type of markup (never HTML), the
//! caching of signed downloads, and the answer for a bucket that does not exist.

use reqwest::{Method, Response};
use serde_json::json;
use sqlx::PgPool;

use super::{assert_storage_error, call, create_bucket, upload};
use crate::harness::{TestApp, json};

/// The three ways an object is downloaded: as the caller, by public URL, by signed URL.
async fn every_download(app: &TestApp, bucket: &str, name: &str) -> Vec<Response> {
    let signed = json(
        call(
            app,
            Method::POST,
            &format!("/object/sign/{bucket}/{name}"),
            &app.service_key,
        )
        .json(&json!({ "expiresIn": 60 }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let signed_url = signed["signedURL"].as_str().unwrap().to_owned();
    let mut answers = Vec::new();
    for path in [
        format!("/object/{bucket}/{name}"),
        format!("/object/authenticated/{bucket}/{name}"),
    ] {
        answers.push(
            call(app, Method::GET, &path, &app.service_key)
                .send()
                .await
                .unwrap(),
        );
    }
    for path in [format!("/object/public/{bucket}/{name}"), signed_url] {
        answers.push(
            app.client
                .get(app.url(&format!("/storage/v1{path}")))
                .send()
                .await
                .unwrap(),
        );
    }
    answers
}

#[sqlx::test]
async fn html_is_served_as_plain_text_on_every_download_route_and_kept_as_uploaded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "site", json!({ "public": true })).await;
    let page = b"<script>alert(document.cookie)</script>";
    for (name, content_type) in [
        ("a.html", "text/html"),
        ("b.html", "Text/HTML; charset=utf-8"),
    ] {
        let r = upload(&app, &app.service_key, "site", name, page, content_type).await;
        assert_eq!(r.status(), 200);
    }

    for name in ["a.html", "b.html"] {
        for r in every_download(&app, "site", name).await {
            let url = r.url().to_string();
            assert_eq!(r.status(), 200, "{url}");
            assert_eq!(r.headers()["content-type"], "text/plain", "{url}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{url}");
            assert_eq!(r.bytes().await.unwrap().as_ref(), page);
        }
    }
    let head = call(&app, Method::HEAD, "/object/site/a.html", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-type"], "text/plain");
    let info = json(
        call(
            &app,
            Method::GET,
            "/object/info/site/b.html",
            &app.service_key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        info["content_type"], "Text/HTML; charset=utf-8",
        "the stored type stays what was uploaded"
    );
}

#[sqlx::test]
async fn script_capable_xml_is_served_sandboxed_and_other_types_are_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "site", json!({ "public": true })).await;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    for (name, content_type) in [
        ("logo.svg", "image/svg+xml"),
        ("page.xhtml", "application/xhtml+xml"),
        ("feed.xml", "Text/XML"),
        ("photo.png", "image/png"),
    ] {
        upload(&app, &app.service_key, "site", name, svg, content_type).await;
    }

    for name in ["logo.svg", "page.xhtml", "feed.xml"] {
        for r in every_download(&app, "site", name).await {
            let csp = r.headers().get("content-security-policy");
            assert!(
                csp.is_some_and(|v| v.to_str().unwrap().contains("sandbox")),
                "{}: {csp:?}",
                r.url()
            );
        }
    }
    let svg = every_download(&app, "site", "logo.svg").await;
    assert_eq!(svg[0].headers()["content-type"], "image/svg+xml");
    for r in every_download(&app, "site", "photo.png").await {
        assert!(!r.headers().contains_key("content-security-policy"));
    }
}

/// `max-age=<n>` of a Cache-Control value.
fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|n| n.parse().ok())
}

#[sqlx::test]
async fn a_signed_download_may_be_cached_no_longer_than_its_token_lives(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    // An upload that asks for an hour (and the form storage-js sends for Blobs, `max-age=3600`).
    let r = call(&app, Method::POST, "/object/files/a.txt", &app.service_key)
        .header("content-type", "text/plain")
        .header("cache-control", "public, max-age=3600, immutable")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let signed = json(
        call(
            &app,
            Method::POST,
            "/object/sign/files/a.txt",
            &app.service_key,
        )
        .json(&json!({ "expiresIn": 60 }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let url = app.url(&format!(
        "/storage/v1{}",
        signed["signedURL"].as_str().unwrap()
    ));

    for method in [Method::GET, Method::HEAD] {
        let got = app.client.request(method, &url).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert!(got.headers().contains_key("expires"));
        let cache = got.headers()["cache-control"].to_str().unwrap().to_owned();
        let age = max_age(&cache).unwrap_or_else(|| panic!("no max-age in {cache:?}"));
        assert!(age <= 60, "{cache:?} outlives the 60 s token");
        assert!(
            !cache.contains("3600") && !cache.contains("immutable"),
            "{cache:?}"
        );
    }
    let etag = app.client.get(&url).send().await.unwrap().headers()["etag"].clone();
    let revalidated = app
        .client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert!(
        max_age(revalidated.headers()["cache-control"].to_str().unwrap()).is_some_and(|a| a <= 60)
    );
    let direct = call(&app, Method::GET, "/object/files/a.txt", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.headers()["cache-control"],
        "public, max-age=3600, immutable",
        "other downloads keep the stored value"
    );
}

#[sqlx::test]
async fn a_download_from_a_missing_bucket_is_no_such_bucket(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "private", json!({})).await;

    for path in ["/object/nope/a.txt", "/object/authenticated/nope/a.txt"] {
        for token in [&app.service_key, &app.anon_key] {
            let r = call(&app, Method::GET, path, token).send().await.unwrap();
            assert_storage_error(r, "404", "NoSuchBucket").await;
        }
    }
    let info = call(
        &app,
        Method::GET,
        "/object/info/nope/a.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_storage_error(info, "404", "NoSuchBucket").await;
    // A bucket that exists but hides the object from the caller still says only "no such key".
    let hidden = call(&app, Method::GET, "/object/private/a.txt", &app.anon_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(hidden, "404", "NoSuchKey").await;
}
