//! The boundaries of references: a row may refer only to rows of its own organization (a foreign
//! key alone only says the row exists), no row moves to another org, and a deal's stage is a stage
//! of the deal's pipeline.

use reqwest::Method;
use serde_json::json;

use super::{World, assert_refused, call};

#[sqlx::test]
async fn a_row_cannot_refer_to_a_row_of_another_org(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let theirs = w.ids_b["contact"];

    // Org B's contact id, learned somehow, attached to a new lead of org A: refused as a
    // foreign-key violation, in the very words PostgreSQL uses for an id that names no row at
    // all — so the answer does not tell that the id exists in another org. Nothing is written.
    let refusal = |id: uuid::Uuid| {
        call(
            w.rest(Method::POST, "/leads", rep)
                .json(&json!({"org_id": w.a, "title": "borrowed", "contact_id": id})),
        )
    };
    let (status, theirs_body) = refusal(theirs).await;
    assert_eq!(status, 409, "{theirs_body}");
    let nowhere = uuid::Uuid::new_v4();
    let (status, nowhere_body) = refusal(nowhere).await;
    assert_eq!(status, 409, "{nowhere_body}");
    assert_eq!(theirs_body["code"], "23503");
    assert_eq!(
        theirs_body["message"],
        "insert or update on table \"leads\" violates foreign key constraint \"leads_contact_id_fkey\""
    );
    for field in ["code", "message", "details", "hint"] {
        assert_eq!(theirs_body[field], nowhere_body[field], "{field}");
    }
    // Like PostgreSQL's own answer to a caller bound by row-level security, the detail does not
    // repeat the key.
    for body in [&theirs_body, &nowhere_body] {
        assert_eq!(
            body["details"], "Key is not present in table \"contacts\".",
            "{body}"
        );
    }
    let borrowed: i64 =
        sqlx::query_scalar("select count(*) from public.leads where title = 'borrowed'")
            .fetch_one(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(borrowed, 0);

    // The same with the org's own contact is fine.
    let (status, body) = call(
        w.rest(Method::POST, "/leads", rep)
            .json(&json!({"org_id": w.a, "title": "own", "contact_id": w.id("contact")})),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Updates are checked too: a deal of org A pointed at org B's company.
    let (status, body) = call(
        w.rest(
            Method::PATCH,
            &format!("/deals?id=eq.{}", w.id("deal")),
            rep,
        )
        .json(&json!({"company_id": w.ids_b["company"]})),
    )
    .await;
    assert_refused(status, &body, 409, "23503");
}

#[sqlx::test]
async fn rows_do_not_move_between_orgs_and_deletes_still_clear_references(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    // Even the service role cannot move a contact (its leads and deals would stay behind).
    let (status, body) = call(
        w.rest(
            Method::PATCH,
            &format!("/contacts?id=eq.{}", w.id("contact")),
            &w.app.service_key,
        )
        .json(&json!({"org_id": w.b})),
    )
    .await;
    assert_refused(status, &body, 400, "23514");

    // `on delete set null` updates the referring rows through the same trigger.
    let contact = w.id("contact");
    let referring = "select (select count(*) from public.leads where contact_id = $1) \
                     + (select count(*) from public.deals where contact_id = $1)";
    let before: i64 = sqlx::query_scalar(referring)
        .bind(contact)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    assert!(before > 0, "the fixture's contact should be referred to");
    sqlx::query("delete from public.contacts where id = $1")
        .bind(contact)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let still: i64 = sqlx::query_scalar(referring)
        .bind(contact)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(still, 0);
}

#[sqlx::test]
async fn every_org_scoped_table_has_the_check(pool: sqlx::PgPool) {
    // A table added later without `private.enforce_same_org` shows up here.
    let missing: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c \
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relname <> 'orgs' \
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped) \
           and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'same_org') \
         order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        missing.is_empty(),
        "tables without the org check: {missing:?}"
    );
}

#[sqlx::test]
async fn a_deal_stays_at_a_stage_of_its_own_pipeline(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let admin = w.token("admin");
    let (status, other) = call(
        w.returning(Method::POST, "/pipelines", admin)
            .json(&json!({"org_id": w.a, "name": "Renewals"})),
    )
    .await;
    assert_eq!(status, 201, "{other}");
    let (status, stage) = call(w.returning(Method::POST, "/pipeline_stages", admin).json(
        &json!({"org_id": w.a, "pipeline_id": other[0]["id"], "name": "Asked", "position": 0}),
    ))
    .await;
    assert_eq!(status, 201, "{stage}");
    let foreign_stage = stage[0]["id"].clone();

    // The fixture's deal is in the Sales pipeline: a Renewals stage is refused, its own is fine.
    let deal = format!("/deals?id=eq.{}", w.id("deal"));
    let (status, body) = call(
        w.rest(Method::PATCH, &deal, rep)
            .json(&json!({"stage_id": foreign_stage})),
    )
    .await;
    assert_refused(status, &body, 409, "23503");
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .contains("another pipeline"),
        "{body}"
    );
    let (status, body) = call(
        w.returning(Method::PATCH, &deal, rep)
            .json(&json!({"stage_id": w.id("stage")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Moving the deal together with a matching stage is fine too.
    let (status, body) = call(
        w.returning(Method::PATCH, &deal, rep)
            .json(&json!({"pipeline_id": other[0]["id"], "stage_id": foreign_stage})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A stage does not move to another pipeline.
    let (status, body) = call(
        w.rest(
            Method::PATCH,
            &format!("/pipeline_stages?id=eq.{}", w.id("stage")),
            admin,
        )
        .json(&json!({"pipeline_id": other[0]["id"]})),
    )
    .await;
    assert_refused(status, &body, 400, "23514");
}

#[sqlx::test]
async fn an_id_from_outside_is_unique_within_its_org_only(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let admin = w.token("admin");
    let theirs: String =
        sqlx::query_scalar("select transaction_id from public.payments where id = $1")
            .bind(w.ids_b["payment_own"])
            .fetch_one(&w.app.pool)
            .await
            .unwrap();
    let payment =
        json!({"org_id": w.a, "transaction_id": theirs, "amount": 5, "payment_type": "one_time"});

    // Org B's transaction id recorded by org A: accepted, which tells A nothing about B, and
    // leaves B's payment as it was.
    let (status, body) = call(w.rest(Method::POST, "/payments", admin).json(&payment)).await;
    assert_eq!(status, 201, "{body}");
    let holders: Vec<uuid::Uuid> = sqlx::query_scalar(
        "select org_id from public.payments where transaction_id = $1 order by org_id = $2",
    )
    .bind(&theirs)
    .bind(w.a)
    .fetch_all(&w.app.pool)
    .await
    .unwrap();
    assert_eq!(holders, [w.b, w.a]);
    // Within one org a transaction is recorded once.
    let (status, body) = call(w.rest(Method::POST, "/payments", admin).json(&payment)).await;
    assert_refused(status, &body, 409, "23505");

    // Stripe's ids alike: org B records a product first, org A records the same one after it.
    let product =
        |org| json!({"org_id": org, "name": "Hosting", "stripe_product_id": "prod_Q1w2e3"});
    let (status, body) = call(
        w.rest(Method::POST, "/products", &w.admin_b.token)
            .json(&product(w.b)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(w.rest(Method::POST, "/products", admin).json(&product(w.a))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(w.rest(Method::POST, "/products", admin).json(&product(w.a))).await;
    assert_refused(status, &body, 409, "23505");
}

/// A row names users of its own org only: a signed-in writer cannot put a non-member's id — nor an
/// id without an account: the same answer, so it does not tell which ids are accounts — in a
/// customer or owner column. Rows naming a member who has since left stay editable.
#[sqlx::test]
async fn a_row_names_members_of_its_org_only(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let contact =
        |user: uuid::Uuid| json!({"org_id": w.a, "first_name": "Planted", "user_id": user});

    let mut answers = Vec::new();
    for stranger in [w.admin_b.id, uuid::Uuid::new_v4()] {
        let (status, body) = call(
            w.rest(Method::POST, "/contacts", rep)
                .json(&contact(stranger)),
        )
        .await;
        assert_refused(status, &body, 409, "23503");
        answers.push(body["message"].clone());
    }
    assert_eq!(
        answers[0], answers[1],
        "an account and no account look alike"
    );
    assert!(
        answers[0].as_str().unwrap().contains("not a member"),
        "{}",
        answers[0]
    );
    let (status, body) = call(
        w.rest(
            Method::PATCH,
            &format!("/deals?id=eq.{}", w.id("deal")),
            rep,
        )
        .json(&json!({"owner_id": w.admin_b.id})),
    )
    .await;
    assert_refused(status, &body, 409, "23503");

    let customer = w.members["customer"].id;
    let (status, body) = call(
        w.returning(Method::POST, "/contacts", rep)
            .json(&contact(customer)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_str().unwrap().to_owned();
    sqlx::query("delete from public.org_members where org_id = $1 and user_id = $2")
        .bind(w.a)
        .bind(customer)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let (status, body) = call(
        w.rest(Method::PATCH, &format!("/contacts?id=eq.{id}"), rep)
            .json(&json!({"first_name": "Kept"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
}
