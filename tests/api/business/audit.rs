//! The audit log: every change through the data API is recorded with its actor, changed columns
//! and request id; admins read their org's entries through an RPC; `bizbase audit verify` finds a
//! forged, removed or truncated entry; retention prunes whole chain prefixes and what stays still
//! verifies.

use std::process::Command;

use bizbase::ops::{audit, subject};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{World, call};

/// Runs `sql` with the append-only guard switched off, as someone with the database owner's
/// powers tampering with the log would.
async fn tamper(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "alter table private.audit_log disable trigger audit_log_immutable; {sql}; \
         alter table private.audit_log enable trigger audit_log_immutable;"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// The entries of org A through the admin RPC.
async fn entries(w: &World, token: &str, table: &str) -> (u16, Value) {
    call(
        w.rest(Method::POST, "/rpc/audit_entries", token)
            .json(&json!({"org": w.a, "table_filter": table})),
    )
    .await
}

#[sqlx::test]
async fn changes_are_recorded_with_actor_columns_and_request_id(pool: PgPool) {
    let w = World::build(pool).await;
    let lead = w.id("lead");

    let (status, _) = call(
        w.rest(
            Method::PATCH,
            &format!("/leads?id=eq.{lead}"),
            w.token("sales_rep"),
        )
        .header("x-request-id", "req-audit-42")
        .json(&json!({"title": "Website rebuild v2", "status": "qualified"})),
    )
    .await;
    let (listed, rows) = entries(&w, w.token("admin"), "leads").await;
    let denied = entries(&w, w.token("sales_rep"), "leads").await;

    assert_eq!(status, 204);
    assert_eq!(listed, 200, "{rows}");
    let update = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["op"] == "UPDATE")
        .unwrap_or_else(|| panic!("no update entry in {rows}"));
    assert_eq!(update["row_id"], json!(lead));
    assert_eq!(update["actor_id"], json!(w.members["sales_rep"].id));
    assert_eq!(update["actor_role"], "authenticated");
    assert_eq!(update["request_id"], "req-audit-42");
    assert_eq!(
        update["changes"],
        json!({
            "old": {"title": "Website rebuild", "status": "new"},
            "new": {"title": "Website rebuild v2", "status": "qualified"}
        }),
        "only the changed columns, old and new"
    );
    assert!(
        rows.as_array().unwrap().iter().any(|e| e["op"] == "INSERT"),
        "the fixture's insert is there too"
    );
    assert_eq!(
        denied.0, 403,
        "reading the audit needs audit.read: {}",
        denied.1
    );
}

#[sqlx::test]
async fn the_chain_verifies_and_any_tampering_is_found(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let clean = audit::verify(pool).await.unwrap();
    assert!(clean.intact(), "{:?}", clean.breaks);
    assert!(
        clean.entries > 100,
        "the fixture wrote {} entries",
        clean.entries
    );
    assert!(clean.chains >= 3, "org A, org B and the org-less chain");

    // An entry's content rewritten.
    let (forged_chain, forged_seq): (String, i64) = sqlx::query_as(
        "select chain::text, seq from private.audit_log where table_name = 'payments' order by id limit 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    tamper(
        pool,
        &format!(
            "update private.audit_log set changes = jsonb_set(changes, '{{new,amount}}', '1') \
             where chain = '{forged_chain}' and seq = {forged_seq}"
        ),
    )
    .await;
    let forged = audit::verify(pool).await.unwrap();
    assert_eq!(forged.breaks.len(), 1, "{:?}", forged.breaks);
    assert_eq!(forged.breaks[0].chain, forged_chain);
    assert_eq!(forged.breaks[0].seq, forged_seq);
    assert!(
        forged.breaks[0]
            .reason
            .contains("do not match their digest"),
        "{:?}",
        forged.breaks
    );

    // Rewriting the hash too breaks the link to the next entry.
    tamper(
        pool,
        &format!(
            "update private.audit_log set hash = repeat('f', 64) where chain = '{forged_chain}' and seq = {forged_seq}"
        ),
    )
    .await;
    let relinked = audit::verify(pool).await.unwrap();
    assert!(
        relinked
            .breaks
            .iter()
            .any(|b| b.seq == forged_seq + 1 && b.reason.contains("previous entry")),
        "{:?}",
        relinked.breaks
    );
}

#[sqlx::test]
async fn removed_and_truncated_entries_are_found(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let chain = w.a.to_string();

    tamper(
        pool,
        &format!("delete from private.audit_log where chain = '{chain}' and seq = 5"),
    )
    .await;
    let removed = audit::verify(pool).await.unwrap();
    tamper(
        pool,
        &format!(
            "delete from private.audit_log where chain = '{chain}' \
             and seq = (select max(seq) from private.audit_log where chain = '{chain}')"
        ),
    )
    .await;
    let truncated = audit::verify(pool).await.unwrap();

    assert!(
        removed
            .breaks
            .iter()
            .any(|b| b.chain == chain && b.seq == 6 && b.reason.contains("missing")),
        "{:?}",
        removed.breaks
    );
    assert!(
        truncated
            .breaks
            .iter()
            .any(|b| b.chain == chain && b.reason.contains("its head says")),
        "{:?}",
        truncated.breaks
    );
}

#[sqlx::test]
async fn the_log_is_append_only_for_everyone_but_retention(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;

    let edit = sqlx::query("update private.audit_log set op = 'DELETE'")
        .execute(pool)
        .await;
    let delete = sqlx::query("delete from private.audit_log")
        .execute(pool)
        .await;
    let before: i64 = sqlx::query_scalar("select count(*) from private.audit_log")
        .fetch_one(pool)
        .await
        .unwrap();
    let pruned = audit::prune(pool, 0).await.unwrap();
    let after_prune = audit::verify(pool).await.unwrap();
    let lead = w.id("lead");
    let (status, _) = call(
        w.rest(
            Method::PATCH,
            &format!("/leads?id=eq.{lead}"),
            w.token("sales_rep"),
        )
        .json(&json!({"title": "After pruning"})),
    )
    .await;
    let continued = audit::verify(pool).await.unwrap();

    assert!(edit.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(
        pruned.business, before,
        "a zero-day retention removes every entry"
    );
    assert!(
        after_prune.intact() && after_prune.entries == 0,
        "{:?}",
        after_prune.breaks
    );
    assert_eq!(status, 204);
    assert!(
        continued.intact(),
        "the chain goes on from its anchor: {:?}",
        continued.breaks
    );
    assert_eq!(continued.entries, 1);
}

#[sqlx::test]
async fn retention_removes_the_auth_events_older_than_its_days(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    sqlx::query(
        "insert into auth.audit_log_entries (action, ip, created_at) values \
         ('login', '203.0.113.7', now() - interval '10 days'), \
         ('login', '203.0.113.8', now() - interval '4 days')",
    )
    .execute(pool)
    .await
    .unwrap();
    let recent: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log_entries where created_at > now() - interval '5 days'",
    )
    .fetch_one(pool)
    .await
    .unwrap();

    let pruned = audit::prune(pool, 5).await.unwrap();

    let left: Vec<Option<String>> =
        sqlx::query_scalar("select host(ip) from auth.audit_log_entries where ip is not null and host(ip) like '203.0.113.%'")
            .fetch_all(pool)
            .await
            .unwrap();
    let kept: i64 = sqlx::query_scalar("select count(*) from auth.audit_log_entries")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(pruned.auth, 1);
    assert_eq!(left, [Some("203.0.113.8".to_owned())]);
    assert_eq!(kept, recent, "every event younger than the retention stays");
}

#[sqlx::test]
async fn bizbase_audit_verify_exits_non_zero_on_a_tampered_log(pool: PgPool) {
    let w = World::build(pool).await;
    let url = super::database_url(&w.app.pool).await;
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_bizbase"))
            .args(["audit", "verify", "--json"])
            .env("DATABASE_URL", &url)
            .env("BIZBASE_MIGRATE", "false")
            .output()
            .unwrap()
    };

    let intact = run();
    tamper(
        &w.app.pool,
        "update private.audit_log set actor_role = 'nobody' where id = (select max(id) from private.audit_log)",
    )
    .await;
    let tampered = run();

    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    let report: Value = serde_json::from_slice(&intact.stdout).unwrap();
    assert_eq!(report["breaks"], json!([]));
    assert!(report["entries"].as_u64().unwrap() > 100);
    assert_eq!(tampered.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(report["breaks"].as_array().unwrap().len(), 1);
}

#[sqlx::test]
async fn a_change_without_claims_is_recorded_under_the_database_role(pool: PgPool) {
    let w = World::build(pool).await;
    // A login role of its own (cluster-wide, so named uniquely), writing without JWT claims as a
    // script would: the entry names it, not the owner of the trigger function.
    let role = format!("audit_script_{}", uuid::Uuid::new_v4().simple());
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create role {role} login bypassrls; grant usage on schema public to {role}; \
         grant insert on public.leads to {role};"
    )))
    .execute(&w.app.pool)
    .await
    .unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    let url = reqwest::Url::parse(&base).unwrap();
    let script_url = format!(
        "postgres://{role}@{}:{}/{db}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    );
    let script = sqlx::PgPool::connect(&script_url).await.unwrap();
    sqlx::query("insert into public.leads (org_id, title) values ($1, 'From a script')")
        .bind(w.a)
        .execute(&script)
        .await
        .unwrap();
    script.close().await;

    let recorded: (Option<String>, Option<uuid::Uuid>) = sqlx::query_as(
        "select actor_role, actor_id from private.audit_log where table_name = 'leads' \
         and changes -> 'new' ->> 'title' = 'From a script'",
    )
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop owned by {role}; drop role {role};"
    )))
    .execute(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(recorded, (Some(role), None));
}

#[sqlx::test]
async fn a_redaction_no_erasure_names_is_found_and_nothing_else_may_change_with_it(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let (chain, seq): (String, i64) = sqlx::query_as(
        "select chain::text, seq from private.audit_log where table_name = 'payments' order by id limit 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    // What the erasure's redaction may do, tried on its own.
    let redact = |set: &'static str| {
        let chain = chain.clone();
        async move {
            let mut tx = pool.begin().await?;
            sqlx::query("select set_config('bizbase.audit_redacting', 'on', true)")
                .execute(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "update private.audit_log set {set} where chain = $1::uuid and seq = $2"
            )))
            .bind(&chain)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
    };

    // The redaction path may change the changes, drop the seed and record the leaves, nothing more.
    let with_hash = redact(
        "changes = '{}', changes_seed = null, changes_leaves = '{}', hash = repeat('f', 64)",
    )
    .await;
    let kept_seed = redact("changes = '{}', changes_leaves = '{}'").await;
    let intact = audit::verify(pool).await.unwrap();
    redact("changes = '{}', changes_seed = null, changes_leaves = '{}'")
        .await
        .unwrap();
    let unnamed = audit::verify(pool).await.unwrap();

    assert!(with_hash.unwrap_err().to_string().contains("append-only"));
    assert!(kept_seed.unwrap_err().to_string().contains("append-only"));
    assert!(intact.intact(), "{:?}", intact.breaks);
    assert_eq!(unnamed.breaks.len(), 1, "{:?}", unnamed.breaks);
    assert_eq!(
        (unnamed.breaks[0].chain.as_str(), unnamed.breaks[0].seq),
        (chain.as_str(), seq)
    );
    assert!(unnamed.breaks[0].reason.contains("no erasure names it"));
}

/// Writes a chain of `n` entries in the form used before digests (the changes hashed verbatim).
async fn old_form_chain(pool: &PgPool, chain: Uuid, n: i64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "do $$
         declare
             e private.audit_log;
             v_prev text := repeat('0', 64);
         begin
             for i in 1..{n} loop
                 e.chain := '{chain}'; e.seq := i; e.org_id := '{chain}'; e.table_name := 'contacts';
                 e.row_id := 'row-' || i; e.op := 'INSERT'; e.at := clock_timestamp();
                 e.changes := jsonb_build_object('new', jsonb_build_object('email', 'p' || i || '@example.test'));
                 e.hash := private.audit_hash(v_prev, e, e.changes::text);
                 insert into private.audit_log (chain, seq, org_id, table_name, row_id, op, changes, at, prev_hash, hash)
                 values (e.chain, e.seq, e.org_id, e.table_name, e.row_id, e.op, e.changes, e.at, v_prev, e.hash);
                 v_prev := e.hash;
             end loop;
             insert into private.audit_chains (chain, seq, hash) values ('{chain}', {n}, v_prev);
         end $$"
    )))
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn chains_of_the_old_form_are_rehashed_when_intact_and_left_when_not(pool: PgPool) {
    let (intact, forged) = (Uuid::new_v4(), Uuid::new_v4());
    old_form_chain(&pool, intact, 3).await;
    old_form_chain(&pool, forged, 3).await;
    let old_form = audit::verify(&pool).await.unwrap();
    tamper(
        &pool,
        &format!(
            "update private.audit_log set changes = '{{\"new\": {{}}}}' where chain = '{forged}' and seq = 2"
        ),
    )
    .await;

    let upgraded: i32 = sqlx::query_scalar("select private.audit_upgrade_chains()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let digests: Vec<(String, i64)> = sqlx::query_as(
        "select chain::text, count(*) filter (where changes_digest is not null and changes_seed is not null) \
         from private.audit_log group by chain",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    // The chain left in the old form goes on with seeded entries.
    sqlx::query("select private.audit_append($1, 'contacts', 'row-4', 'INSERT', '{\"new\": {}}')")
        .bind(forged)
        .execute(&pool)
        .await
        .unwrap();
    let after = audit::verify(&pool).await.unwrap();

    assert!(
        old_form.intact(),
        "the old form verifies: {:?}",
        old_form.breaks
    );
    assert_eq!(upgraded, 1, "only the intact chain");
    assert!(digests.contains(&(intact.to_string(), 3)), "{digests:?}");
    assert!(digests.contains(&(forged.to_string(), 0)), "{digests:?}");
    assert_eq!(after.breaks.len(), 1, "{:?}", after.breaks);
    assert_eq!(
        after.breaks[0].chain,
        forged.to_string(),
        "the forgery is still found"
    );
    assert_eq!(after.breaks[0].seq, 2);
}

#[sqlx::test]
async fn a_redaction_dressed_up_after_an_erasure_is_found(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    subject::erase(&w.app.state.config, pool, "customer@a.test", None)
        .await
        .unwrap();
    let erased = audit::verify(pool).await.unwrap();
    let chain = w.a.to_string();
    let at = |sql: &str| {
        let sql = sql.replace("{chain}", &chain);
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    // A row's creation, redacted: its id and org are kept, its personal columns removed.
    let redacted = at(
        "select min(seq) from private.audit_log where chain = '{chain}' and changes_leaves is not null and op = 'INSERT'",
    )
    .await;
    let erase =
        at("select seq from private.audit_log where chain = '{chain}' and op = 'ERASE'").await;
    let payment = at("select min(seq) from private.audit_log where chain = '{chain}' and table_name = 'payments'").await;
    let entry = format!("chain = '{chain}' and seq = {redacted}");

    // A value it keeps, edited.
    tamper(
        pool,
        &format!(
            "update private.audit_log set changes = jsonb_set(changes, '{{new,id}}', '\"forged\"') where {entry}"
        ),
    )
    .await;
    let edited = audit::verify(pool).await.unwrap();
    // A value it keeps removed the way an erasure removes one (its salt is in the record, so its
    // digest is right), though the erasure did not remove it.
    let id = r#"'["new", "id"]'"#;
    tamper(
        pool,
        &format!(
            "update private.audit_log set changes = jsonb_set(changes, '{{new,id}}', to_jsonb(row_id)) where {entry}; \
             update private.audit_log set changes = changes #- '{{new,id}}', \
               changes_leaves = jsonb_set(changes_leaves, array[{id}], jsonb_build_object('digest', \
                 private.audit_leaf_digest(decode(changes_leaves -> {id} ->> 'salt', 'hex'), changes -> 'new' -> 'id'))) \
             where {entry}"
        ),
    )
    .await;
    let removed = audit::verify(pool).await.unwrap();
    // The erasure's own entry turned into a redaction that names itself and a payment.
    tamper(
        pool,
        &format!(
            "update private.audit_log set changes_seed = null, changes_leaves = '{{}}', \
               changes = jsonb_build_object('redacted', jsonb_build_object('{erase}', '[]'::jsonb, '{payment}', '[]'::jsonb)) \
             where chain = '{chain}' and seq = {erase}; \
             update private.audit_log set changes_seed = null, changes_leaves = '{{}}', changes = '{{}}' \
             where chain = '{chain}' and seq = {payment}"
        ),
    )
    .await;
    let forged = audit::verify(pool).await.unwrap();
    let found = |v: &audit::Verification, seq: i64, reason: &str| {
        v.breaks
            .iter()
            .any(|b| b.chain == chain && b.seq == seq && b.reason.contains(reason))
    };

    assert!(erased.intact(), "{:?}", erased.breaks);
    assert!(redacted < erase, "the erasure named an earlier entry");
    assert_eq!(edited.breaks.len(), 1, "{:?}", edited.breaks);
    assert!(found(&edited, redacted, "do not match their digest"));
    assert_eq!(removed.breaks.len(), 1, "{:?}", removed.breaks);
    assert!(found(
        &removed,
        redacted,
        "differ from what its erasure recorded"
    ));
    assert!(
        found(&forged, erase, "no erasure names it"),
        "{:?}",
        forged.breaks
    );
    assert!(
        found(&forged, payment, "no erasure names it"),
        "{:?}",
        forged.breaks
    );
    assert!(
        found(&forged, redacted, "no erasure names it"),
        "its erasure's record is gone with it: {:?}",
        forged.breaks
    );
}

#[sqlx::test]
async fn a_redaction_in_another_form_or_with_smuggled_lines_and_added_leaves_are_found(
    pool: PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    subject::erase(&w.app.state.config, pool, "customer@a.test", None)
        .await
        .unwrap();
    let chain = w.a.to_string();
    let seq = |filter: &str| {
        let sql =
            format!("select min(seq) from private.audit_log where chain = '{chain}' and {filter}");
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    let contact =
        seq("table_name = 'contacts' and op = 'INSERT' and changes_leaves is not null").await;
    let ticket =
        seq("table_name = 'tickets' and op = 'INSERT' and changes_leaves is not null").await;
    let payment = seq("table_name = 'payments'").await;
    let deal = seq("table_name = 'deals'").await;
    let at = |seq: i64| format!("chain = '{chain}' and seq = {seq}");

    tamper(
        pool,
        &[
            // The contact's redaction dressed up as one of the older form, which would take every
            // value it kept: `{"redacted": [the columns its erasure records]}`.
            format!(
                "update private.audit_log a set changes_leaves = null, changes = jsonb_build_object('redacted', \
                   (select e.changes -> 'redacted' -> a.seq::text -> 'removed' from private.audit_log e \
                     where e.chain = a.chain and e.op = 'ERASE')) where {}",
                at(contact)
            ),
            // A removed value's digest carrying one more line.
            format!(
                r#"update private.audit_log set changes_leaves = jsonb_set(changes_leaves, array['["new", "subject"]'],
                   jsonb_build_object('digest', (changes_leaves -> '["new", "subject"]' ->> 'digest')
                     || E'\n["new", "status"]=' || repeat('0', 64))) where {}"#,
                at(ticket)
            ),
            // An empty object added to an entry left intact (it would make erasures pass it by).
            format!(
                r#"update private.audit_log set changes = changes || '{{"erased": {{}}}}' where {}"#,
                at(payment)
            ),
            // The columns of two forms on one entry.
            format!(
                "update private.audit_log set changes_leaves = '{{}}' where {}",
                at(deal)
            ),
        ]
        .join("; "),
    )
    .await;
    let found = audit::verify(pool).await.unwrap();
    let reason = |seq: i64| {
        found
            .breaks
            .iter()
            .find(|b| b.chain == chain && b.seq == seq)
            .map(|b| b.reason.as_str())
    };

    assert_eq!(found.breaks.len(), 4, "{:?}", found.breaks);
    assert_eq!(
        reason(contact),
        Some("its changes differ from what its erasure recorded")
    );
    assert_eq!(
        reason(ticket),
        Some("a value was removed without its digest")
    );
    assert_eq!(
        reason(payment),
        Some("its changes do not match their digest")
    );
    assert_eq!(
        reason(deal),
        Some("it carries the columns of more than one form")
    );
}
