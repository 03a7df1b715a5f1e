//! An object store that cannot be opened (here: its directory is a file) makes the storage API
//! and the GDPR endpoints answer 503 while the rest of the API keeps serving.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::call;
use crate::harness::TestApp;

#[sqlx::test]
async fn without_an_object_store_files_answer_503_and_the_rest_serves(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("storage");
    std::fs::write(&not_a_dir, b"a file where the store's directory should be").unwrap();
    let app = TestApp::spawn_with(pool, &[("STORAGE_DIR", &not_a_dir.to_string_lossy())]).await;
    assert!(app.state.objects.is_none());

    let r = call(&app, Method::GET, "/bucket", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);

    let r = app
        .client
        .post(app.url("/functions/v1/subject-export"))
        .header("apikey", &app.service_key)
        .bearer_auth(&app.service_key)
        .json(&json!({"org": uuid::Uuid::nil(), "email": "someone@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);

    let r = app
        .client
        .get(app.url("/rest/v1/profiles?select=id"))
        .header("apikey", &app.service_key)
        .bearer_auth(&app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
