//! What an erasure takes out of the audit log: only the values it anonymizes, only from the entries
//! holding them, and entries of the earlier salted form whole; the chain still verifies.

use bizbase::ops::{audit, subject};
use serde_json::Value;
use uuid::Uuid;

use super::super::World;
use super::CUSTOMER;

/// The audit entries about a ticket: (op, changes, whether the seed or salt is kept).
async fn ticket_entries(w: &World, ticket: Uuid) -> Vec<(String, Value, bool)> {
    sqlx::query_as(
        "select op, changes, changes_seed is not null or changes_salt is not null from private.audit_log \
         where table_name = 'tickets' and row_id = $1 order by seq",
    )
    .bind(ticket.to_string())
    .fetch_all(&w.app.pool)
    .await
    .unwrap()
}

/// The fixture, with the person's ticket moved to `pending` (a change holding nothing of theirs).
async fn with_status_change(pool: sqlx::PgPool) -> (World, Uuid) {
    let w = World::build(pool).await;
    let ticket = w.id("ticket_own");
    sqlx::query("update public.tickets set status = 'pending' where id = $1")
        .bind(ticket)
        .execute(&w.app.pool)
        .await
        .unwrap();
    (w, ticket)
}

#[sqlx::test]
async fn erasure_removes_only_the_values_it_anonymizes_from_the_audit_log(pool: sqlx::PgPool) {
    let (w, ticket) = with_status_change(pool).await;

    subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries = ticket_entries(&w, ticket).await;
    let (_, created, created_kept) = &entries[0];
    let (_, status, status_kept) = entries
        .iter()
        .find(|(op, c, _)| op == "UPDATE" && c["new"].get("status").is_some())
        .unwrap();
    let leaves: Value = sqlx::query_scalar(
        "select changes_leaves from private.audit_log where table_name = 'tickets' and row_id = $1 and op = 'INSERT'",
    )
    .bind(ticket.to_string())
    .fetch_one(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(entries[0].0, "INSERT");
    assert!(!created_kept, "the creation was redacted");
    assert_eq!(created["new"]["status"], "open", "what is not theirs stays");
    assert_eq!(created["new"]["id"], ticket.to_string());
    assert!(created["new"].get("subject").is_none(), "{created}");
    assert!(created["new"].get("issue").is_none(), "{created}");
    assert!(
        leaves[r#"["new", "subject"]"#]["digest"].is_string(),
        "{leaves}"
    );
    assert!(
        leaves[r#"["new", "status"]"#]["salt"].is_string(),
        "{leaves}"
    );
    assert_eq!(
        (
            status["old"]["status"].as_str(),
            status["new"]["status"].as_str()
        ),
        (Some("open"), Some("pending"))
    );
    assert!(
        *status_kept,
        "a status change holds nothing of theirs: not redacted"
    );
    assert!(audit::verify(&w.app.pool).await.unwrap().intact());
}

#[sqlx::test]
async fn a_row_that_carried_their_address_once_loses_only_the_entries_holding_it(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    // Bea's contact had the person's address by mistake, then her own, then a new phone.
    let bea: Uuid = sqlx::query_scalar(
        "insert into public.contacts (org_id, first_name, email) values ($1, 'Bea', $2) returning id",
    )
    .bind(w.a)
    .bind(CUSTOMER)
    .fetch_one(pool)
    .await
    .unwrap();
    for change in ["email = 'bea@example.test'", "phone = '+1 555 0199'"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "update public.contacts set {change} where id = $1"
        )))
        .bind(bea)
        .execute(pool)
        .await
        .unwrap();
    }

    subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries: Vec<(String, Value, bool)> = sqlx::query_as(
        "select op, changes, changes_seed is not null from private.audit_log \
         where table_name = 'contacts' and row_id = $1 order by seq",
    )
    .bind(bea.to_string())
    .fetch_all(pool)
    .await
    .unwrap();
    let live: (Option<String>, Option<String>) =
        sqlx::query_as("select first_name, email from public.contacts where id = $1")
            .bind(bea)
            .fetch_one(pool)
            .await
            .unwrap();

    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(
        !entries.iter().any(|e| e.1.to_string().contains(CUSTOMER)),
        "{entries:?}"
    );
    assert!(
        !entries[0].2 && !entries[1].2,
        "the two entries holding their address are redacted"
    );
    assert_eq!(
        entries[2].1["new"]["phone"], "+1 555 0199",
        "Bea's own history stays"
    );
    assert!(entries[2].2);
    assert_eq!(
        live,
        (Some("Bea".into()), Some("bea@example.test".into())),
        "not theirs"
    );
    assert!(audit::verify(pool).await.unwrap().intact());
}

#[sqlx::test]
async fn entries_of_the_earlier_salted_form_are_redacted_whole(pool: sqlx::PgPool) {
    let (w, ticket) = with_status_change(pool).await;
    // Org A's chain rewritten in migration 20261127000026's form: one salted digest of the whole
    // changes per entry.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "do $$
         declare
             e private.audit_log;
             v_prev text := repeat('0', 64);
             v_salt bytea;
         begin
             perform set_config('bizbase.audit_upgrading', 'on', true);
             for e in select * from private.audit_log where chain = '{a}' order by seq loop
                 v_salt := uuid_send(gen_random_uuid());
                 e.prev_hash := v_prev;
                 v_prev := private.audit_hash(v_prev, e, private.audit_digest(v_salt, e.changes));
                 update private.audit_log set changes_seed = null, changes_salt = v_salt,
                     changes_digest = private.audit_digest(v_salt, e.changes), prev_hash = e.prev_hash, hash = v_prev
                  where id = e.id;
             end loop;
             update private.audit_chains set hash = v_prev where chain = '{a}';
         end $$",
        a = w.a
    )))
    .execute(&w.app.pool)
    .await
    .unwrap();
    let rewritten = audit::verify(&w.app.pool).await.unwrap();

    let done = subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries = ticket_entries(&w, ticket).await;
    let status_kept = entries
        .iter()
        .any(|(op, c, kept)| op == "UPDATE" && c["new"]["status"] == "pending" && *kept);
    let after = audit::verify(&w.app.pool).await.unwrap();

    assert!(rewritten.intact(), "{:?}", rewritten.breaks);
    assert_eq!(
        entries[0].1["redacted"]
            .as_array()
            .map(|c| c.iter().any(|c| c == "subject")),
        Some(true),
        "{entries:?}"
    );
    assert!(!entries[0].2);
    assert!(
        status_kept,
        "an entry holding nothing of theirs stays: {entries:?}"
    );
    assert_eq!(done["audit_unredactable"], 0);
    assert!(after.intact(), "{:?}", after.breaks);
}
