//! Signed upload URLs: a path written once in the signer's name, the signer's upsert and RLS as at
//! signing time, and an upsert URL replacing only what its signer could.

use reqwest::{Method, Response};
use serde_json::json;
use sqlx::PgPool;

use super::super::{
    assert_storage_error, call, create_bucket, form, home_with_alice, owner_of, replace_text,
    upload, user,
};
use super::{keyless, put_signed};
use crate::harness::{TestApp, json};

/// Signs an upload URL as `token` (with `x-upsert: true` when `upsert`).
async fn sign_upload(app: &TestApp, token: &str, path: &str, upsert: bool) -> Response {
    let mut r = call(
        app,
        Method::POST,
        &format!("/object/upload/sign/{path}"),
        token,
    )
    .json(&json!({}));
    if upsert {
        r = r.header("x-upsert", "true");
    }
    r.send().await.unwrap()
}

#[sqlx::test]
async fn a_signed_upload_writes_that_path_once_as_the_signer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, alice_id) = home_with_alice(&app).await;
    let path = format!("home/{alice_id}/up.txt");

    let signed = json(sign_upload(&app, &alice, &path, false).await).await;
    let token = signed["token"].as_str().unwrap();
    assert_eq!(
        signed["url"],
        format!("/object/upload/sign/{path}?token={token}")
    );
    let put = put_signed(&app, &path, token, "first").await;
    assert_eq!(json(put).await, json!({ "Key": path }));
    let again = keyless(
        &app,
        Method::PUT,
        &format!("/object/upload/sign/{path}?token={token}"),
    )
    .header("x-upsert", "true")
    .body("second")
    .send()
    .await
    .unwrap();
    assert_storage_error(again, "409", "KeyAlreadyExists").await;
    let elsewhere = put_signed(&app, &format!("home/{alice_id}/other.txt"), token, "x").await;
    assert_storage_error(elsewhere, "400", "InvalidSignature").await;

    let owner = owner_of(&app, &format!("{alice_id}/up.txt")).await;
    assert_eq!(owner.0.as_deref(), Some(alice_id.as_str()));
    assert_eq!(owner.1.map(|u| u.to_string()), Some(alice_id.clone()));
    let got = call(&app, Method::GET, &format!("/object/{path}"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), "first");
    let claims = crate::harness::claims_of(token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );
}

#[sqlx::test]
async fn signed_uploads_follow_the_signers_upsert_and_rls_at_signing_time(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, alice_id) = home_with_alice(&app).await;

    let denied = sign_upload(&app, &alice, "home/shared/x.txt", false).await;
    assert_storage_error(denied, "403", "AccessDenied").await;
    let anon = sign_upload(
        &app,
        &app.anon_key,
        &format!("home/{alice_id}/x.txt"),
        false,
    )
    .await;
    assert_storage_error(anon, "403", "AccessDenied").await;
    // Alice has no UPDATE policy, so she may not hand out a URL that overwrites her object.
    let mine = format!("{alice_id}/x.txt");
    upload(&app, &alice, "home", &mine, b"x", "text/plain").await;
    let upsert = sign_upload(&app, &alice, &format!("home/{mine}"), true).await;
    assert_storage_error(upsert, "403", "AccessDenied").await;

    let path = "home/shared/by-service.bin";
    let signed = json(sign_upload(&app, &app.service_key, path, true).await).await;
    let token = signed["token"].as_str().unwrap();
    let (content_type, body) = form(b"v1", "application/octet-stream");
    let first = keyless(
        &app,
        Method::PUT,
        &format!("/object/upload/sign/{path}?token={token}"),
    )
    .header("content-type", content_type)
    .body(body)
    .send()
    .await
    .unwrap();
    assert_eq!(first.status(), 200);
    let second = put_signed(&app, path, token, "v2").await;
    assert_eq!(
        second.status(),
        200,
        "an upsert token may replace the object"
    );
    let got = call(
        &app,
        Method::GET,
        &format!("/object/{path}"),
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(got.text().await.unwrap(), "v2");
    let owner = owner_of(&app, "shared/by-service.bin").await;
    assert_eq!(
        owner,
        (None, None),
        "service_role has no sub, so the object has no owner"
    );
}

/// An upsert upload URL replaces what its signer could replace, not whatever later appears at its
/// path: an object its signer owns (their own earlier upload through it), or the version the signer
/// was allowed to update when signing. Before, a URL signed for a free path overwrote, until it
/// expired, an object someone else put there afterwards — a customer could replace staff's
/// correction of their attachment although they may not update it.
#[sqlx::test]
async fn an_upsert_url_replaces_only_what_its_signer_could(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    sqlx::raw_sql(
        "create policy shared_insert on storage.objects for insert to authenticated \
           with check (bucket_id = 'shared'); \
         create policy shared_select on storage.objects for select to authenticated \
           using (bucket_id = 'shared'); \
         create policy shared_update on storage.objects for update to authenticated \
           using (bucket_id = 'shared' and name like 'open/%');",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    create_bucket(&app, "shared", json!({})).await;
    let (alice, _) = user(&app, "alice@example.com").await;
    let (bob, _) = user(&app, "bob@example.com").await;
    let content = |path: &str| {
        let url = app.url(&format!("/storage/v1/object/{path}"));
        let get = app
            .client
            .get(url)
            .header("apikey", &app.anon_key)
            .bearer_auth(&alice);
        async move { get.send().await.unwrap().text().await.unwrap() }
    };

    // A free path: Alice's URL writes it, and rewrites her own upload.
    let path = "shared/notes.txt";
    let signed = json(sign_upload(&app, &alice, path, true).await).await;
    let token = signed["token"].as_str().unwrap();
    assert_eq!(put_signed(&app, path, token, "v1").await.status(), 200);
    assert_eq!(put_signed(&app, path, token, "v2").await.status(), 200);
    // Someone else replaces it (the service role, as staff's tools do): her URL no longer may.
    let r = replace_text(&app, &app.service_key, path, "staff's").await;
    assert_eq!(r.status(), 200);
    let r = put_signed(&app, path, token, "v3").await;
    assert_storage_error(r, "403", "AccessDenied").await;
    assert_eq!(content(path).await, "staff's");

    // Bob's object where Alice may update: her URL replaces the version she was shown, once Bob
    // has written a newer one, no more.
    let open = "shared/open/board.txt";
    assert_eq!(
        upload(
            &app,
            &bob,
            "shared",
            "open/board.txt",
            b"bob 1",
            "text/plain"
        )
        .await
        .status(),
        200
    );
    let signed = json(sign_upload(&app, &alice, open, true).await).await;
    let token = signed["token"].as_str().unwrap();
    assert_eq!(put_signed(&app, open, token, "alice").await.status(), 200);
    let r = replace_text(&app, &bob, open, "bob 2").await;
    assert_eq!(r.status(), 200);
    let r = put_signed(&app, open, token, "alice again").await;
    assert_storage_error(r, "403", "AccessDenied").await;
    assert_eq!(content(open).await, "bob 2");
}
