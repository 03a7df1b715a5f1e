//! Buckets: create, list, get, update, empty, delete.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{assert_storage_error, blobs, call, create_bucket, upload};
use crate::harness::{TestApp, json};

#[sqlx::test]
async fn service_role_creates_gets_lists_updates_and_deletes_a_bucket(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let created = create_bucket(
        &app,
        "avatars",
        json!({ "public": true, "file_size_limit": "1MB", "allowed_mime_types": ["image/*"] }),
    )
    .await;
    assert_eq!(created.status(), 200);
    assert_eq!(json(created).await, json!({ "name": "avatars" }));
    create_bucket(&app, "docs", json!({})).await;

    let got = json(
        call(&app, Method::GET, "/bucket/avatars", &app.service_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["id"], "avatars");
    assert_eq!(got["public"], true);
    assert_eq!(
        got["file_size_limit"], 1_000_000,
        "decimal units, as Supabase"
    );
    assert_eq!(got["allowed_mime_types"], json!(["image/*"]));
    let listed = json(
        call(
            &app,
            Method::GET,
            "/bucket?sortColumn=name&sortOrder=desc",
            &app.service_key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    // The migrations create the business modules' buckets.
    assert_eq!(
        ids,
        ["ticket-attachments", "site-assets", "docs", "avatars"]
    );
    let searched = json(
        call(&app, Method::GET, "/bucket?search=ava", &app.service_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(searched.as_array().unwrap().len(), 1);

    let updated = call(&app, Method::PUT, "/bucket/avatars", &app.service_key)
        .json(&json!({ "public": false, "file_size_limit": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(json(updated).await["message"], "Successfully updated");
    let got = json(
        call(&app, Method::GET, "/bucket/avatars", &app.service_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (got["public"].clone(), got["file_size_limit"].clone()),
        (json!(false), json!(null))
    );
    assert_eq!(got["allowed_mime_types"], json!(["image/*"]));

    let deleted = call(&app, Method::DELETE, "/bucket/docs", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(json(deleted).await["message"], "Successfully deleted");
    let missing = call(&app, Method::GET, "/bucket/docs", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(missing, "404", "NoSuchBucket").await;
}

#[sqlx::test]
async fn a_taken_bucket_id_is_a_duplicate_and_bad_names_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "b", json!({})).await;

    assert_storage_error(
        create_bucket(&app, "b", json!({})).await,
        "409",
        "BucketAlreadyExists",
    )
    .await;
    assert_storage_error(
        create_bucket(&app, "a/b", json!({})).await,
        "400",
        "InvalidBucketName",
    )
    .await;
    let bad_limit = create_bucket(&app, "c", json!({ "file_size_limit": "lots" })).await;
    assert_storage_error(bad_limit, "400", "InvalidRequest").await;
}

#[sqlx::test]
async fn without_policies_only_service_role_manages_buckets(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let as_anon = call(&app, Method::POST, "/bucket", &app.anon_key)
        .json(&json!({ "id": "x", "name": "x" }))
        .send()
        .await
        .unwrap();
    let body = assert_storage_error(as_anon, "403", "AccessDenied").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("row-level security"),
        "{body}"
    );
    create_bucket(&app, "x", json!({})).await;
    let listed = json(
        call(&app, Method::GET, "/bucket", &app.anon_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed, json!([]));
    let empty = call(&app, Method::POST, "/bucket/x/empty", &app.anon_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(empty, "403", "AccessDenied").await;
}

#[sqlx::test]
async fn a_bucket_with_objects_is_not_deleted_until_emptied(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "full", json!({})).await;
    for name in ["a.txt", "dir/b.txt"] {
        let r = upload(&app, &app.service_key, "full", name, b"data", "text/plain").await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(blobs(&app), 2);

    let refused = call(&app, Method::DELETE, "/bucket/full", &app.service_key)
        .send()
        .await
        .unwrap();
    let body = assert_storage_error(refused, "409", "ResourceNotEmpty").await;
    assert_eq!(
        body["message"],
        "The bucket you tried to delete is not empty"
    );
    let emptied = call(&app, Method::POST, "/bucket/full/empty", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(json(emptied).await["message"], "Successfully emptied");
    assert_eq!(blobs(&app), 0);
    let deleted = call(&app, Method::DELETE, "/bucket/full", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
}
