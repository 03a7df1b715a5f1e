//! The person's files: exported with their bytes and deleted by an erasure, by the operator from
//! any bucket and by an org admin (through the edge functions) from their tickets' attachments,
//! and never a user's own folder through an org that shares that user's id.

use bizbase::ops::subject;
use reqwest::Method;
use serde_json::json;

use super::super::{World, call};
use super::{CUSTOMER, count};
use crate::storage::{blobs, upload};

#[sqlx::test]
async fn erasure_deletes_the_persons_files(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    crate::storage::create_bucket(&w.app, "uploads", json!({})).await;
    for name in ["carla/passport.png", "other/logo.png"] {
        let r = crate::storage::upload(
            &w.app,
            &w.app.service_key,
            "uploads",
            name,
            b"bytes",
            "image/png",
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    sqlx::query("update storage.objects set owner = $1 where name like 'carla/%'")
        .bind(w.members["customer"].id)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let exported = subject::export(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let before = crate::storage::blobs(&w.app);

    let done = subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();

    assert_eq!(exported["files"][0]["name"], "carla/passport.png");
    assert_eq!(
        exported["files"][0]["content_base64"], "Ynl0ZXM=",
        "the bytes, base64"
    );
    assert_eq!(exported["files"][0]["size"], 5);
    assert_eq!(count(&exported, "files"), 1);
    assert_eq!(done["erased"]["files"], 1);
    assert_eq!(
        crate::storage::blobs(&w.app),
        before - 1,
        "their bytes are gone"
    );
    let left: Vec<String> = sqlx::query_scalar("select name from storage.objects")
        .fetch_all(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["other/logo.png".to_owned()]);
}

/// Files a user keeps under their own id (`<bucket>/<user id>/…`, the per-user layout) are not an
/// org's even when the org's id is that user's id: org-scoped requests take owned files from the
/// per-org buckets only. Before, an admin of such an org exported the user's private files and could
/// erase them (signed-in callers can no longer choose an org's id either: auth::tenancy).
#[sqlx::test]
async fn an_org_whose_id_is_a_users_id_reaches_none_of_their_own_files(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let victim = w.members["customer"].id;
    crate::storage::create_bucket(&w.app, "documents", json!({})).await;
    let name = format!("{victim}/tax-return.txt");
    let r = upload(
        &w.app,
        &w.app.service_key,
        "documents",
        &name,
        b"private",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 200);
    for sql in [
        "update storage.objects set owner = $1 where bucket_id = 'documents'",
        "insert into public.orgs (id, name) values ($1, 'Mirror')",
        "insert into public.org_members (org_id, user_id, role) values ($1, $2, 'admin')",
    ] {
        sqlx::query(sql)
            .bind(victim)
            .bind(w.admin_b.id)
            .execute(&w.app.pool)
            .await
            .unwrap();
    }
    let mut claims = crate::harness::claims_of(&w.admin_b.token);
    claims["app_metadata"]["orgs"][victim.to_string()] = json!("admin");
    let token = crate::harness::sign_hs256(&claims);
    let asked = json!({"org": victim, "email": CUSTOMER});

    let (status, exported) = call(
        w.rest(Method::POST, "/rpc/subject_export", &token)
            .json(&asked),
    )
    .await;
    let (erase_status, erased) = call(
        w.rest(Method::POST, "/rpc/subject_erase", &token)
            .json(&asked),
    )
    .await;

    assert_eq!(status, 200, "{exported}");
    assert_eq!(count(&exported, "files"), 0, "{exported}");
    assert_eq!(erase_status, 200, "{erased}");
    assert_eq!(erased["erased"]["files"], 0, "{erased}");
    let kept: i64 =
        sqlx::query_scalar("select count(*) from storage.objects where bucket_id = 'documents'")
            .fetch_one(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}

#[sqlx::test]
async fn an_org_admin_exports_and_erases_the_files_of_the_persons_tickets_through_functions(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let (a, ticket) = (w.a, w.id("ticket_own"));
    let scan = format!("{a}/{ticket}/scan.pdf");
    let other = format!("{a}/{}/notes.txt", w.id("ticket_other"));
    for (name, bytes) in [(&scan, &b"%PDF-1.7 scan"[..]), (&other, &b"not theirs"[..])] {
        let r = upload(
            &w.app,
            w.token("customer_service"),
            "ticket-attachments",
            name,
            bytes,
            "application/pdf",
        )
        .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let body = json!({"org": a, "email": CUSTOMER});
    let before = blobs(&w.app);

    let (status, exported) = call(w.function("subject-export", w.token("admin")).json(&body)).await;
    let (denied, refusal) = call(
        w.function("subject-export", w.token("customer_service"))
            .json(&body),
    )
    .await;
    let (anon, _) = call(w.function("subject-export", &w.app.anon_key).json(&body)).await;
    let (bad, invalid) = call(
        w.function("subject-export", w.token("admin"))
            .json(&json!({"org": a, "email": "nobody"})),
    )
    .await;
    let (erased_status, done) =
        call(w.function("subject-erase", w.token("admin")).json(&body)).await;
    let (erase_denied, _) = call(
        w.function("subject-erase", w.token("sales_rep"))
            .json(&body),
    )
    .await;
    let left: Vec<String> = sqlx::query_scalar(
        "select name from storage.objects where bucket_id = 'ticket-attachments'",
    )
    .fetch_all(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(status, 200, "{exported}");
    assert_eq!(count(&exported, "files"), 1, "{}", exported["files"]);
    assert_eq!(exported["files"][0]["name"], scan.as_str());
    assert_eq!(
        exported["files"][0]["content_base64"], "JVBERi0xLjcgc2Nhbg==",
        "the attachment's bytes"
    );
    assert_eq!(count(&exported, "tickets"), 1);
    assert_eq!(denied, 403, "{refusal}");
    assert_eq!(refusal["code"], "insufficient_permissions");
    assert_eq!(anon, 401);
    assert_eq!(
        (bad, invalid["code"].as_str()),
        (400, Some("validation_failed"))
    );
    assert_eq!(erased_status, 200, "{done}");
    assert_eq!(done["erased"]["files"], 1);
    assert_eq!(
        done["files"],
        json!([{"bucket": "ticket-attachments", "name": scan}])
    );
    assert_eq!(erase_denied, 403);
    assert_eq!(left, [other], "the other ticket's file stays");
    assert_eq!(
        blobs(&w.app),
        before - 1,
        "the attachment's bytes are deleted at once"
    );
}
