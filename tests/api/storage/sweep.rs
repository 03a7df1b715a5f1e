//! The orphan sweep: blobs no `storage.objects` row names are deleted once older than the grace
//! period; referenced blobs, young blobs and files that are not blobs stay.

use std::time::Duration;

use bizbase::storage::{
    store::{self, location},
    sweep::{GRACE, sweep},
};
use object_store::{ObjectStoreExt, PutPayload, path::Path};
use serde_json::json;
use sqlx::PgPool;

use super::{blobs, create_bucket, upload};
use crate::harness::TestApp;

#[sqlx::test]
async fn the_sweep_deletes_blobs_no_row_names_once_past_the_grace(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "docs", json!({})).await;
    for name in ["kept.txt", "erased-by-sql.txt"] {
        let r = upload(&app, &app.service_key, "docs", name, b"bytes", "text/plain").await;
        assert_eq!(r.status(), 200);
    }
    // A row deleted by SQL (as an erasure through rpc does) and a blob whose row never came.
    sqlx::query("delete from storage.objects where name = 'erased-by-sql.txt'")
        .execute(&app.pool)
        .await
        .unwrap();
    let objects = store::open(&app.state.config.storage).unwrap();
    let stray = store::new_version();
    objects
        .put(&location(&stray), PutPayload::from_static(b"lost"))
        .await
        .unwrap();
    objects
        .put(
            &Path::from("README.txt"),
            PutPayload::from_static(b"not a blob"),
        )
        .await
        .unwrap();
    let before = blobs(&app);

    let young = sweep(&app.pool, objects.as_ref(), GRACE).await.unwrap();
    let swept = sweep(&app.pool, objects.as_ref(), Duration::ZERO)
        .await
        .unwrap();
    let again = sweep(&app.pool, objects.as_ref(), Duration::ZERO)
        .await
        .unwrap();
    let kept = app
        .client
        .get(app.url("/storage/v1/object/docs/kept.txt"))
        .header("apikey", &app.service_key)
        .bearer_auth(&app.service_key)
        .send()
        .await
        .unwrap();

    assert_eq!(before, 4);
    assert_eq!(young, 0, "nothing is older than the grace period yet");
    assert_eq!(swept, 2, "the blob of the deleted row and the stray one");
    assert_eq!(again, 0);
    assert_eq!(
        blobs(&app),
        2,
        "the referenced blob and the non-blob file stay"
    );
    assert_eq!(kept.status(), 200);
    assert_eq!(&kept.bytes().await.unwrap()[..], b"bytes");
}
