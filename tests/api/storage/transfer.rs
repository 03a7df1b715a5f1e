//! Listing, removing, moving and copying objects.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{assert_storage_error, blobs, call, create_bucket, owner_of, rows, upload, user};
use crate::harness::{TestApp, json};

async fn list(app: &TestApp, body: Value) -> Vec<Value> {
    let r = call(app, Method::POST, "/object/list/files", &app.service_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    json(r).await.as_array().unwrap().clone()
}

fn names(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["name"].as_str().unwrap()).collect()
}

#[sqlx::test]
async fn list_returns_folders_then_files_one_level_below_the_prefix(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    for name in [
        "b.txt",
        "a.txt",
        "docs/x.txt",
        "docs/deep/y.txt",
        "img/z.png",
        "a_b.txt",
    ] {
        upload(
            &app,
            &app.service_key,
            "files",
            name,
            name.as_bytes(),
            "text/plain",
        )
        .await;
    }
    let sort = json!({ "column": "name", "order": "asc" });

    let root = list(
        &app,
        json!({ "prefix": "", "limit": 100, "offset": 0, "sortBy": sort }),
    )
    .await;
    assert_eq!(names(&root), ["docs", "img", "a.txt", "a_b.txt", "b.txt"]);
    assert_eq!(root[0]["id"], Value::Null);
    assert_eq!(root[0]["metadata"], Value::Null);
    assert_eq!(root[2]["metadata"]["size"], 5);
    assert_eq!(root[2]["metadata"]["mimetype"], "text/plain");
    assert!(root[2]["id"].is_string() && root[2]["created_at"].is_string());
    let docs = list(&app, json!({ "prefix": "docs", "sortBy": sort })).await;
    assert_eq!(names(&docs), ["deep", "x.txt"]);
    let page = list(
        &app,
        json!({ "prefix": "", "limit": 2, "offset": 1, "sortBy": sort }),
    )
    .await;
    assert_eq!(names(&page), ["img", "a.txt"]);
    let desc = list(
        &app,
        json!({ "prefix": "", "sortBy": { "column": "name", "order": "desc" } }),
    )
    .await;
    assert_eq!(names(&desc), ["img", "docs", "b.txt", "a_b.txt", "a.txt"]);
    let search = list(
        &app,
        json!({ "prefix": "", "search": "A_", "sortBy": sort }),
    )
    .await;
    assert_eq!(
        names(&search),
        ["a_b.txt"],
        "search is a case-insensitive literal prefix"
    );
}

#[sqlx::test]
async fn remove_deletes_rows_and_files_and_skips_missing_keys(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    for name in ["a.txt", "b.txt", "c.txt"] {
        upload(&app, &app.service_key, "files", name, b"x", "text/plain").await;
    }

    let r = call(&app, Method::DELETE, "/object/files", &app.service_key)
        .json(&json!({ "prefixes": ["a.txt", "b.txt", "nope.txt"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deleted = json(r).await;
    let mut gone: Vec<&str> = deleted
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    gone.sort_unstable();
    assert_eq!(gone, ["a.txt", "b.txt"]);
    assert_eq!(deleted[0]["bucket_id"], "files");
    assert_eq!((rows(&app).await, blobs(&app)), (1, 1));
    let one = call(
        &app,
        Method::DELETE,
        "/object/files/c.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(json(one).await["message"], "Successfully deleted");
    let again = call(
        &app,
        Method::DELETE,
        "/object/files/c.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_storage_error(again, "404", "NoSuchKey").await;
    assert_eq!((rows(&app).await, blobs(&app)), (0, 0));
}

#[sqlx::test]
async fn move_renames_and_copy_duplicates_across_buckets(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    create_bucket(&app, "archive", json!({})).await;
    upload(
        &app,
        &app.service_key,
        "files",
        "a.txt",
        b"alpha",
        "text/plain",
    )
    .await;
    upload(
        &app,
        &app.service_key,
        "files",
        "taken.txt",
        b"t",
        "text/plain",
    )
    .await;
    let post = |path: &'static str, body: Value| {
        call(&app, Method::POST, path, &app.service_key)
            .json(&body)
            .send()
    };

    let moved = post(
        "/object/move",
        json!({ "bucketId": "files", "sourceKey": "a.txt", "destinationKey": "dir/b.txt" }),
    )
    .await
    .unwrap();
    let moved = json(moved).await;
    assert_eq!(moved["message"], "Successfully moved");
    assert_eq!(moved["Key"], "files/dir/b.txt");
    let old = call(&app, Method::GET, "/object/files/a.txt", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(old, "404", "NoSuchKey").await;
    let clash = post(
        "/object/move",
        json!({ "bucketId": "files", "sourceKey": "dir/b.txt", "destinationKey": "taken.txt" }),
    )
    .await
    .unwrap();
    assert_storage_error(clash, "409", "KeyAlreadyExists").await;
    let missing = post(
        "/object/move",
        json!({ "bucketId": "files", "sourceKey": "none", "destinationKey": "x" }),
    )
    .await
    .unwrap();
    assert_storage_error(missing, "404", "NoSuchKey").await;

    let copied = post(
        "/object/copy",
        json!({ "bucketId": "files", "sourceKey": "dir/b.txt", "destinationKey": "c.txt", "destinationBucket": "archive" }),
    )
    .await
    .unwrap();
    assert_eq!(json(copied).await["Key"], "archive/c.txt");
    let got = call(&app, Method::GET, "/object/archive/c.txt", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), "alpha");
    let twice = post("/object/copy", json!({ "bucketId": "files", "sourceKey": "dir/b.txt", "destinationKey": "c.txt", "destinationBucket": "archive" })).await.unwrap();
    assert_storage_error(twice, "409", "KeyAlreadyExists").await;
    assert_eq!((rows(&app).await, blobs(&app)), (3, 3));
}

/// Copy and move take the destination bucket's rules as an upload does: before, a page copied
/// from an unrestricted bucket into a public `image/*` one was served from it as `text/html`, and an
/// object past the destination's size limit arrived by copy or move although its upload is refused.
#[sqlx::test]
async fn copy_and_move_keep_the_destination_buckets_types_and_size_limit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    let avatars =
        json!({ "public": true, "allowed_mime_types": ["image/*"], "file_size_limit": 1000 });
    create_bucket(&app, "avatars", avatars).await;
    let key = app.service_key.clone();
    for (name, bytes, kind) in [
        ("page.html", &b"<script>alert(1)</script>"[..], "text/html"),
        ("big.png", &[0u8; 2000][..], "image/png"),
        ("small.png", &[0u8; 10][..], "image/png"),
    ] {
        assert_eq!(
            upload(&app, &key, "files", name, bytes, kind)
                .await
                .status(),
            200
        );
    }
    let transfer = |op: &str, name: &str| {
        call(&app, Method::POST, &format!("/object/{op}"), &key).json(&json!({
            "bucketId": "files", "sourceKey": name,
            "destinationBucket": "avatars", "destinationKey": name,
        }))
    };
    let before = blobs(&app);

    for op in ["copy", "move"] {
        let r = transfer(op, "page.html").send().await.unwrap();
        assert_storage_error(r, "415", "InvalidMimeType").await;
        let r = transfer(op, "big.png").send().await.unwrap();
        assert_storage_error(r, "413", "EntityTooLarge").await;
    }

    assert_eq!(blobs(&app), before, "no bytes copied");
    let placed: Vec<(String, String)> =
        sqlx::query_as("select bucket_id, name from storage.objects order by name")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let expected = [
        ("files", "big.png"),
        ("files", "page.html"),
        ("files", "small.png"),
    ];
    assert_eq!(placed, expected.map(|(b, n)| (b.to_owned(), n.to_owned())));
    let r = transfer("copy", "small.png").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = transfer("move", "small.png").send().await.unwrap();
    assert_storage_error(r, "409", "KeyAlreadyExists").await;
}

/// A move hands the object to the mover, as Supabase does, and the UPDATE policy's check sees the
/// row as it will be (new name, new owner); a move by service_role (no user) keeps the owner.
#[sqlx::test]
async fn a_move_makes_the_mover_the_owner_and_policies_check_the_new_row(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    sqlx::raw_sql(
        "create policy drop_select on storage.objects for select to authenticated \
           using (bucket_id = 'drop'); \
         create policy drop_update on storage.objects for update to authenticated \
           using (bucket_id = 'drop') \
           with check (bucket_id = 'drop' and owner_id = auth.uid()::text);",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    create_bucket(&app, "drop", json!({})).await;
    let (alice, alice_id) = user(&app, "alice@example.com").await;
    let (bob, bob_id) = user(&app, "bob@example.com").await;
    let service = app.service_key.clone();
    upload(&app, &service, "drop", "inbox/a.txt", b"a", "text/plain").await;
    let mv = |token: &str, from: &str, to: &str| {
        call(&app, Method::POST, "/object/move", token)
            .json(&json!({ "bucketId": "drop", "sourceKey": from, "destinationKey": to }))
            .send()
    };

    let r = mv(&alice, "inbox/a.txt", "alice/a.txt").await.unwrap();
    assert_eq!(r.status(), 200);
    let (owner_id, owner) = owner_of(&app, "alice/a.txt").await;
    assert_eq!(owner_id.as_deref(), Some(alice_id.as_str()));
    assert_eq!(owner.map(|o| o.to_string()), Some(alice_id.clone()));
    let r = mv(&bob, "alice/a.txt", "bob/a.txt").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(owner_of(&app, "bob/a.txt").await.0, Some(bob_id.clone()));
    let r = mv(&service, "bob/a.txt", "archive/a.txt").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(owner_of(&app, "archive/a.txt").await.0, Some(bob_id));
}
