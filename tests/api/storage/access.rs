//! Row-level security on `storage.objects` decides: a policy letting signed-in users write and
//! read their own folder, anon refused, service_role through.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{
    assert_storage_error, blobs, call, create_bucket, home_with_alice, owner_of, rows, upload, user,
};
use crate::harness::{TestApp, json};

#[sqlx::test]
async fn users_write_and_read_only_their_own_folder(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, alice_id) = home_with_alice(&app).await;
    let (bob, _) = user(&app, "bob@example.com").await;
    let mine = format!("{alice_id}/notes.txt");

    let ok = upload(&app, &alice, "home", &mine, b"mine", "text/plain").await;
    assert_eq!(ok.status(), 200);
    let owner = owner_of(&app, &mine).await;
    assert_eq!(owner.0.as_deref(), Some(alice_id.as_str()));
    let got = call(&app, Method::GET, &format!("/object/home/{mine}"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), "mine");
    let listed: Value = json(
        call(&app, Method::POST, "/object/list/home", &alice)
            .json(&json!({ "prefix": alice_id }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed[0]["name"], "notes.txt");

    let elsewhere = upload(&app, &alice, "home", "shared/x.txt", b"x", "text/plain").await;
    let body = assert_storage_error(elsewhere, "403", "AccessDenied").await;
    assert_eq!(
        body["message"],
        "new row violates row-level security policy for table \"objects\""
    );
    let bobs_read = call(&app, Method::GET, &format!("/object/home/{mine}"), &bob)
        .send()
        .await
        .unwrap();
    assert_storage_error(bobs_read, "404", "NoSuchKey").await;
    let bob_lists: Value = json(
        call(&app, Method::POST, "/object/list/home", &bob)
            .json(&json!({ "prefix": alice_id }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bob_lists, json!([]));
    let anon = upload(
        &app,
        &app.anon_key,
        "home",
        &format!("{alice_id}/anon.txt"),
        b"x",
        "text/plain",
    )
    .await;
    assert_storage_error(anon, "403", "AccessDenied").await;
    let service = upload(
        &app,
        &app.service_key,
        "home",
        "shared/by-service.txt",
        b"x",
        "text/plain",
    )
    .await;
    assert_eq!(service.status(), 200);

    // Alice has no UPDATE or DELETE policy: upsert and remove are refused or do nothing.
    let upsert = call(&app, Method::PUT, &format!("/object/home/{mine}"), &alice)
        .header("content-type", "text/plain")
        .body("again")
        .send()
        .await
        .unwrap();
    assert_storage_error(upsert, "403", "AccessDenied").await;
    let removed = call(&app, Method::DELETE, "/object/home", &alice)
        .json(&json!({ "prefixes": [mine] }))
        .send()
        .await
        .unwrap();
    assert_eq!(json(removed).await, json!([]));
    assert_eq!(
        (rows(&app).await, blobs(&app)),
        (2, 2),
        "refused writes leave no row or file"
    );
}

#[sqlx::test]
async fn a_bad_token_is_access_denied_and_downloads_fall_back_to_anon(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "pub", json!({ "public": true })).await;
    upload(&app, &app.service_key, "pub", "a.txt", b"a", "text/plain").await;

    let bad = call(&app, Method::POST, "/object/list/pub", "not-a-jwt")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_storage_error(bad, "403", "AccessDenied").await;
    let download = call(&app, Method::GET, "/object/pub/a.txt", "not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let no_key = app
        .client
        .post(app.url("/storage/v1/object/list/pub"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
}
