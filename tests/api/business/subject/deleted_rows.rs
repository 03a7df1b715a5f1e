//! Rows deleted before the request (a contact with its leads, ticket and events; their account's
//! ticket and contacts): still exported and erased through their audit entries, while rows moved
//! or unlinked by hand from the person are left alone.

use bizbase::ops::{audit, subject};
use serde_json::Value;
use uuid::Uuid;

use super::super::{World, ids_of};
use super::CUSTOMER;

/// A person known only through a contact deleted before their request.
const DORA: &str = "dora@example.test";

/// In org A: Dora's contact with a lead, a lead deleted while hers, a lead moved to Bea's contact,
/// a ticket with one message kept and one deleted, and a marketing event — then the contact is
/// deleted (its lead and ticket are unlinked, its event deleted with it). Returns the ids by name.
async fn deleted_contact(w: &World) -> Value {
    sqlx::query_scalar(
        "with d as (insert into public.contacts (org_id, first_name, email) values ($1, 'Dora', $2) returning id), \
              b as (insert into public.contacts (org_id, first_name, email) values ($1, 'Bea', 'bea@example.test') returning id), \
              l as (insert into public.leads (org_id, contact_id, title) \
                    select $1, d.id, t from d, unnest(array['Roof repair for Dora', 'Garden plan', 'Old enquiry', \
                                                            'Orphaned', 'Hedge trimming']) t \
                    returning id, title), \
              t as (insert into public.tickets (org_id, contact_id, subject) select $1, d.id, 'Roof leaking' from d returning id), \
              e as (insert into public.marketing_events (org_id, contact_id, kind, properties) \
                    select $1, d.id, 'page_view', '{\"page\": \"/roofs/dora\"}' from d returning id) \
         select jsonb_build_object('contact', (select id from d), 'bea', (select id from b), 'ticket', (select id from t), \
                                   'event', (select id from e)) \
                || (select jsonb_object_agg(title, id) from l)",
    )
    .bind(w.a)
    .bind(DORA)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

fn uuid_of(ids: &Value, name: &str) -> Uuid {
    Uuid::parse_str(ids[name].as_str().unwrap()).unwrap()
}

#[sqlx::test]
async fn the_rows_of_a_contact_deleted_before_the_request_are_exported_and_erased(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let ids = deleted_contact(&w).await;
    let ticket = uuid_of(&ids, "ticket");
    let (kept, moved, gone) = (
        uuid_of(&ids, "Roof repair for Dora"),
        uuid_of(&ids, "Garden plan"),
        uuid_of(&ids, "Old enquiry"),
    );
    let (orphaned, hedge) = (uuid_of(&ids, "Orphaned"), uuid_of(&ids, "Hedge trimming"));
    let message: Uuid = sqlx::query_scalar(
        "with m as (insert into public.ticket_messages (org_id, ticket_id, author_kind, body) \
                    values ($1, $2, 'customer', 'Water everywhere'), ($1, $2, 'customer', 'Sent by mistake') \
                    returning id, body) \
         select id from m where body = 'Water everywhere'",
    )
    .bind(w.a)
    .bind(ticket)
    .fetch_one(pool)
    .await
    .unwrap();
    for step in [
        format!(
            "update public.leads set contact_id = '{}' where id = '{moved}'",
            uuid_of(&ids, "bea")
        ),
        format!("delete from public.leads where id = '{gone}'"),
        // Misfiled: put right by hand before the contact went.
        format!("update public.leads set contact_id = null where id = '{hedge}'"),
        "delete from public.ticket_messages where body = 'Sent by mistake'".to_owned(),
        format!(
            "delete from public.contacts where id = '{}'",
            uuid_of(&ids, "contact")
        ),
        // Unlinked by the deletion, then tidied away.
        format!("delete from public.leads where id = '{orphaned}'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(step))
            .execute(pool)
            .await
            .unwrap();
    }
    // The entries in org A's chain holding something of Dora's.
    let personal = || async {
        sqlx::query_scalar::<_, String>(
            "select table_name || ' ' || op from private.audit_log where org_id = $1 \
             and (changes::text ~ '(Dora|dora@example|Roof|Water everywhere|Sent by mistake|/roofs/|Old enquiry|Orphaned)') \
             order by id",
        )
        .bind(w.a)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let before = personal().await;

    let doc = subject::export(&w.app.state.config, pool, DORA, Some(w.a))
        .await
        .unwrap();
    let done = subject::erase(&w.app.state.config, pool, DORA, Some(w.a))
        .await
        .unwrap();
    let after = personal().await;
    let leads: Vec<(Uuid, String)> =
        sqlx::query_as("select id, title from public.leads where id = any ($1) order by title")
            .bind([kept, moved, hedge])
            .fetch_all(pool)
            .await
            .unwrap();
    let texts: (String, String) = sqlx::query_as(
        "select t.subject, m.body from public.tickets t, public.ticket_messages m where t.id = $1 and m.id = $2",
    )
    .bind(ticket)
    .bind(message)
    .fetch_one(pool)
    .await
    .unwrap();
    let audited = |table: &str| -> Vec<String> {
        doc["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["table"] == table)
            .map(|e| {
                format!(
                    "{} {}",
                    e["row_id"].as_str().unwrap(),
                    e["op"].as_str().unwrap()
                )
            })
            .collect()
    };

    assert_eq!(ids_of(&doc["leads"]), vec![kept], "{}", doc["leads"]);
    assert_eq!(ids_of(&doc["tickets"]), vec![ticket]);
    assert_eq!(ids_of(&doc["ticket_messages"]), vec![message]);
    let contact = uuid_of(&ids, "contact");
    assert_eq!(
        audited("contacts"),
        [format!("{contact} INSERT"), format!("{contact} DELETE")],
        "the deleted contact's entries are theirs"
    );
    for deleted in [gone, orphaned] {
        assert!(
            audited("leads").contains(&format!("{deleted} DELETE")),
            "{}",
            doc["audit"]
        );
    }
    assert!(
        !audited("leads")
            .iter()
            .any(|e| e.starts_with(&moved.to_string()))
    );
    assert_eq!(
        audited("marketing_events").len(),
        2,
        "the event's insert and delete"
    );
    assert_eq!(
        audited("ticket_messages").len(),
        3,
        "kept message's insert, the other's insert and delete"
    );

    assert_eq!(
        (
            done["erased"]["leads"].as_i64(),
            done["erased"]["tickets"].as_i64()
        ),
        (Some(1), Some(1)),
        "{done}"
    );
    assert_eq!(
        leads,
        vec![
            (moved, "Garden plan".to_owned()),
            (hedge, "Hedge trimming".to_owned()),
            (kept, "[erased]".to_owned())
        ],
        "the lead moved to Bea and the one unlinked by hand stay as they are"
    );
    assert_eq!(texts, ("[erased]".to_owned(), "[erased]".to_owned()));
    assert!(before.len() >= 10, "{before:?}");
    assert_eq!(
        after,
        Vec::<String>::new(),
        "nothing of Dora's is left in the log"
    );
    let garden: i64 = sqlx::query_scalar(
        "select count(*) from private.audit_log where table_name = 'leads' and row_id in ($1, $2) \
         and changes_seed is not null and changes::text ~ '(Garden plan|Hedge trimming)'",
    )
    .bind(moved.to_string())
    .bind(hedge.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(garden, 2, "the two leads' histories are left alone");
    assert!(audit::verify(pool).await.unwrap().intact());
}

#[sqlx::test]
async fn rows_of_their_account_and_contacts_deleted_before_an_erasure_everywhere_leave_nothing_of_theirs(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let customer = w.members["customer"].id;
    // Their ticket (opened with their account, filed under someone else's contact) goes, and its
    // messages with it; a lead of their live contact is deleted, another unlinked from it by hand
    // (misfiled: not theirs); a contact carrying only their account goes, unlinking its lead.
    let ids: Value = sqlx::query_scalar(
        "with o as (insert into public.contacts (org_id, first_name) values ($1, 'Other') returning id), \
              t as (update public.tickets set contact_id = (select id from o) where id = $2), \
              k as (insert into public.contacts (org_id, user_id, first_name) values ($1, $4, 'Carlita') returning id), \
              l as (insert into public.leads (org_id, contact_id, title) \
                    values ($1, $3, 'Talked about pricing'), ($1, $3, 'Misfiled'), \
                           ($1, (select id from k), 'Via account') \
                    returning id, title) \
         select jsonb_object_agg(title, id) || jsonb_build_object('Carlita', (select id from k)) from l",
    )
    .bind(w.a)
    .bind(w.id("ticket_own"))
    .bind(w.id("contact"))
    .bind(customer)
    .fetch_one(pool)
    .await
    .unwrap();
    let (misfiled, via_account) = (uuid_of(&ids, "Misfiled"), uuid_of(&ids, "Via account"));
    for step in [
        format!(
            "delete from public.tickets where id = '{}'",
            w.id("ticket_own")
        ),
        format!(
            "delete from public.leads where id = '{}'",
            uuid_of(&ids, "Talked about pricing")
        ),
        format!("update public.leads set contact_id = null where id = '{misfiled}'"),
        format!(
            "delete from public.contacts where id = '{}'",
            uuid_of(&ids, "Carlita")
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(step))
            .execute(pool)
            .await
            .unwrap();
    }
    let theirs = || async {
        sqlx::query_scalar::<_, String>(
            "select table_name || ' ' || op from private.audit_log where org_id = $1 \
             and changes::text ~ '(Cannot log in|Help please|Talked about pricing|Via account|Carlita)' order by id",
        )
        .bind(w.a)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let before = theirs().await;
    let doc = subject::export(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();

    subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let exported: Vec<&str> = doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["row_id"] == w.id("ticket_own").to_string().as_str()
                || e["table"] == "ticket_messages"
        })
        .filter_map(|e| e["op"].as_str())
        .collect();
    let internal: String = sqlx::query_scalar(
        "select changes::text from private.audit_log where row_id = $1 and op = 'DELETE'",
    )
    .bind(w.id("message_internal").to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    let leads: Vec<(Uuid, String)> =
        sqlx::query_as("select id, title from public.leads where id = any ($1) order by title")
            .bind([misfiled, via_account])
            .fetch_all(pool)
            .await
            .unwrap();
    let misfiled_kept: (i64, bool) = sqlx::query_as(
        "select count(*), bool_or(changes::text like '%Misfiled%') from private.audit_log \
         where row_id = $1 and changes_seed is not null",
    )
    .bind(misfiled.to_string())
    .fetch_one(pool)
    .await
    .unwrap();

    assert_eq!(
        before.len(),
        9,
        "ticket insert and delete, message insert and delete, two leads' inserts, the deleted \
         lead's delete, the contact's insert and delete: {before:?}"
    );
    assert_eq!(
        exported,
        ["INSERT", "INSERT", "UPDATE", "DELETE", "DELETE"],
        "the export holds the deleted ticket's and their message's entries"
    );
    let mut exported_leads = ids_of(&doc["leads"]);
    exported_leads.retain(|id| *id != w.id("lead"));
    assert_eq!(exported_leads, vec![via_account], "{}", doc["leads"]);
    assert_eq!(theirs().await, Vec::<String>::new());
    assert_eq!(
        leads,
        vec![
            (misfiled, "Misfiled".to_owned()),
            (via_account, "[erased]".to_owned())
        ],
        "a lead unlinked by hand from a live contact is not theirs"
    );
    assert_eq!(
        misfiled_kept,
        (2, true),
        "its insert and its unlink stay as they were"
    );
    assert!(
        internal.contains("Looks like a password issue"),
        "a staff note is not theirs: {internal}"
    );
    assert!(audit::verify(pool).await.unwrap().intact());
}
