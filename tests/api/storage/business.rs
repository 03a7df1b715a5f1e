//! The business modules' buckets: ticket attachments and site assets, one folder per org, with
//! access following the org's role permissions and the customer's own tickets and projects.

use reqwest::Method;
use sqlx::PgPool;

use super::{assert_storage_error, call, upload};
use crate::business::World;

/// `GET /object/{bucket}/{name}` with `token`: the status.
async fn read(w: &World, token: &str, bucket: &str, name: &str) -> u16 {
    call(
        &w.app,
        Method::GET,
        &format!("/object/{bucket}/{name}"),
        token,
    )
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[sqlx::test]
async fn ticket_attachments_follow_ticket_permissions_and_ownership(pool: PgPool) {
    let w = World::build(pool).await;
    let own = format!("{}/{}/screenshot.png", w.a, w.id("ticket_own"));
    let other = format!("{}/{}/notes.png", w.a, w.id("ticket_other"));
    let bucket = "ticket-attachments";

    let by_customer = upload(
        &w.app,
        w.token("customer"),
        bucket,
        &own,
        b"png",
        "image/png",
    )
    .await;
    let on_someone_elses = upload(
        &w.app,
        w.token("customer"),
        bucket,
        &other,
        b"png",
        "image/png",
    )
    .await;
    let by_agent = upload(
        &w.app,
        w.token("customer_service"),
        bucket,
        &other,
        b"png",
        "image/png",
    )
    .await;
    let by_marketing = upload(
        &w.app,
        w.token("marketing_manager"),
        bucket,
        &format!("{}/{}/x.png", w.a, w.id("ticket_own")),
        b"png",
        "image/png",
    )
    .await;

    assert_eq!(by_customer.status(), 200);
    assert_storage_error(on_someone_elses, "403", "AccessDenied").await;
    assert_eq!(by_agent.status(), 200);
    assert_storage_error(by_marketing, "403", "AccessDenied").await;
    assert_eq!(
        read(&w, w.token("customer_service"), bucket, &own).await,
        200
    );
    assert_eq!(read(&w, w.token("admin"), bucket, &own).await, 200);
    assert_eq!(read(&w, w.token("customer"), bucket, &own).await, 200);
    assert_ne!(read(&w, w.token("customer"), bucket, &other).await, 200);
    assert_ne!(read(&w, w.token("sales_rep"), bucket, &own).await, 200);
    assert_ne!(
        read(&w, &w.admin_b.token, bucket, &own).await,
        200,
        "org B sees nothing"
    );
}

#[sqlx::test]
async fn site_assets_follow_site_permissions_and_the_clients_projects(pool: PgPool) {
    let w = World::build(pool).await;
    let own = format!("{}/{}/logo.svg", w.a, w.id("project_own"));
    let house = format!("{}/{}/logo.svg", w.a, w.id("project_other"));
    let bucket = "site-assets";

    let by_client = upload(
        &w.app,
        w.token("customer"),
        bucket,
        &own,
        b"<svg/>",
        "image/svg+xml",
    )
    .await;
    let on_house = upload(
        &w.app,
        w.token("customer"),
        bucket,
        &house,
        b"<svg/>",
        "image/svg+xml",
    )
    .await;
    let by_admin = upload(
        &w.app,
        w.token("admin"),
        bucket,
        &house,
        b"<svg/>",
        "image/svg+xml",
    )
    .await;
    let by_sales = upload(
        &w.app,
        w.token("sales_rep"),
        bucket,
        &own,
        b"<svg/>",
        "image/svg+xml",
    )
    .await;

    assert_eq!(
        by_client.status(),
        200,
        "{}",
        by_client.text().await.unwrap()
    );
    assert_storage_error(on_house, "403", "AccessDenied").await;
    assert_eq!(by_admin.status(), 200);
    assert_storage_error(by_sales, "403", "AccessDenied").await;
    assert_eq!(read(&w, w.token("admin"), bucket, &own).await, 200);
    assert_eq!(read(&w, w.token("customer"), bucket, &own).await, 200);
    assert_ne!(read(&w, w.token("customer"), bucket, &house).await, 200);
    assert_ne!(
        read(&w, w.token("customer_service"), bucket, &own).await,
        200
    );
}
