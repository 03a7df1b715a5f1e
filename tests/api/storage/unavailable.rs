//! An object store that cannot be opened (here: its directory is a file) makes the storage API
//! and the GDPR endpoints answer 503 while the rest of the API keeps serving.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use crate::harness::TestApp;

#[sqlx::test]
async fn without_an_object_store_files_answer_503_and_the_rest_serves(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("storage");
    std::fs::write(&not_a_dir, b"a file where the store's directory should be").unwrap();
    let app = TestApp::spawn_with(pool, &[("STORAGE_DIR", &not_a_dir.to_string_lossy())]).await;
    assert!(app.state.objects.is_none());

    // Every surface with the service role, so that nothing but the missing store can refuse.
    let service = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("apikey", &app.service_key)
            .bearer_auth(&app.service_key)
    };
    let status = |rb: reqwest::RequestBuilder| async { rb.send().await.unwrap().status() };

    assert_eq!(
        status(service(Method::GET, "/storage/v1/bucket")).await,
        503
    );
    let export = service(Method::POST, "/functions/v1/subject-export")
        .json(&json!({"org": uuid::Uuid::nil(), "email": "someone@example.com"}));
    assert_eq!(status(export).await, 503);
    assert_eq!(
        status(service(Method::GET, "/rest/v1/profiles?select=id")).await,
        200
    );
}
