//! Signed download URLs: fetching with the token alone (ranges, download names), tokens that are
//! expired, tampered with, or for another path or use, and signing only what the signer may see,
//! one path or many with an error per path.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::super::{assert_storage_error, call, create_bucket, home_with_alice, upload, user};
use super::{keyless, put_signed};
use crate::harness::{TestApp, json, now, sign_hs256};

/// Signs a download URL for `bucket/name` as `token`; the JSON answer.
async fn sign(app: &TestApp, token: &str, bucket: &str, name: &str) -> Response {
    call(
        app,
        Method::POST,
        &format!("/object/sign/{bucket}/{name}"),
        token,
    )
    .json(&json!({ "expiresIn": 60 }))
    .send()
    .await
    .unwrap()
}

async fn private_file(app: &TestApp) {
    create_bucket(app, "files", json!({})).await;
    let r = upload(
        app,
        &app.service_key,
        "files",
        "docs/a b.txt",
        b"0123456789",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn a_signed_url_downloads_without_any_key_with_ranges_and_download_names(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    private_file(&app).await;

    let signed = json(sign(&app, &app.service_key, "files", "docs/a b.txt").await).await;
    let url = signed["signedURL"].as_str().unwrap();
    assert!(
        url.starts_with("/object/sign/files/docs/a b.txt?token="),
        "{url}"
    );
    let url = url.replace(' ', "%20");
    let got = keyless(&app, Method::GET, &url).send().await.unwrap();
    let ranged = keyless(&app, Method::GET, &url)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    let named = keyless(&app, Method::GET, &format!("{url}&download=x.txt"))
        .send()
        .await
        .unwrap();

    assert_eq!(got.status(), 200);
    assert!(got.headers().contains_key("expires"));
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(got.text().await.unwrap(), "0123456789");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(ranged.text().await.unwrap(), "234");
    assert_eq!(
        named.headers()["content-disposition"],
        "attachment; filename=x.txt; filename*=UTF-8''x.txt"
    );
    let cached = keyless(&app, Method::GET, &url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let no_token = keyless(&app, Method::GET, "/object/sign/files/docs/a%20b.txt")
        .send()
        .await
        .unwrap();
    assert_storage_error(no_token, "400", "InvalidRequest").await;
}

#[sqlx::test]
async fn expired_tampered_and_misdirected_tokens_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    private_file(&app).await;
    upload(
        &app,
        &app.service_key,
        "files",
        "other.txt",
        b"x",
        "text/plain",
    )
    .await;
    let url = json(sign(&app, &app.service_key, "files", "docs/a b.txt").await).await["signedURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    let get = |path: String| keyless(&app, Method::GET, &path).send();
    let at = |exp: u64| {
        sign_hs256(
            &json!({ "url": "files/other.txt", "scope": "download", "iat": exp - 60, "exp": exp }),
        )
    };

    let expired = get(format!(
        "/object/sign/files/other.txt?token={}",
        at(now() - 5)
    ))
    .await
    .unwrap();
    let body = assert_storage_error(expired, "400", "InvalidJWT").await;
    assert_eq!(body["message"], "\"exp\" claim timestamp check failed");
    let valid = get(format!(
        "/object/sign/files/other.txt?token={}",
        at(now() + 60)
    ))
    .await
    .unwrap();
    assert_eq!(
        valid.status(),
        200,
        "a token made with the server's secret is accepted"
    );
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let r = get(format!(
        "/object/sign/files/docs/a%20b.txt?token={tampered}"
    ))
    .await
    .unwrap();
    assert_storage_error(r, "400", "InvalidJWT").await;
    let r = get(format!("/object/sign/files/other.txt?token={token}"))
        .await
        .unwrap();
    assert_storage_error(r, "400", "InvalidSignature").await;
    let access_token = user(&app, "eve@example.com").await.0;
    let r = get(format!("/object/sign/files/other.txt?token={access_token}"))
        .await
        .unwrap();
    assert_storage_error(r, "400", "InvalidJWT").await;
    let r = put_signed(&app, "files/docs/a%20b.txt", &token, "overwritten").await;
    assert_storage_error(r, "400", "InvalidSignature").await;
}

#[sqlx::test]
async fn signing_needs_the_object_to_be_visible_and_signs_many_with_per_path_errors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, alice_id) = home_with_alice(&app).await;
    let (bob, _) = user(&app, "bob@example.com").await;
    let mine = format!("{alice_id}/a.txt");
    upload(&app, &alice, "home", &mine, b"alice's", "text/plain").await;

    let bobs = sign(&app, &bob, "home", &mine).await;
    assert_storage_error(bobs, "404", "NoSuchKey").await;
    let anons = sign(&app, &app.anon_key, "home", &mine).await;
    assert_storage_error(anons, "404", "NoSuchKey").await;
    let missing = sign(&app, &alice, "home", &format!("{alice_id}/none.txt")).await;
    assert_storage_error(missing, "404", "NoSuchKey").await;
    let zero = call(
        &app,
        Method::POST,
        &format!("/object/sign/home/{mine}"),
        &alice,
    )
    .json(&json!({ "expiresIn": 0 }))
    .send()
    .await
    .unwrap();
    assert_storage_error(zero, "400", "InvalidRequest").await;
    let many: Value = json(
        call(&app, Method::POST, "/object/sign/home", &alice)
            .json(&json!({ "expiresIn": 60, "paths": [mine, "nope.txt"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_eq!(many[0]["error"], Value::Null);
    assert_eq!(many[0]["path"], mine.as_str());
    let url = many[0]["signedURL"].as_str().unwrap();
    let got = keyless(&app, Method::GET, url).send().await.unwrap();
    assert_eq!(got.text().await.unwrap(), "alice's");
    assert_eq!(
        many[1],
        json!({
            "error": "Either the object does not exist or you do not have access to it",
            "path": "nope.txt",
            "signedURL": null,
        })
    );
}
