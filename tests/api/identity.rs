//! The identity transaction: role and claims set under Supabase's GUC names, so RLS decides.

use bizbase::db::identity::{self, Access, DbRole, Identity, RequestInfo};
use serde_json::json;
use sqlx::PgPool;

async fn notes_table(pool: &PgPool) {
    for stmt in [
        "create table public.notes (id serial primary key, owner text not null, body text not null)",
        "alter table public.notes enable row level security",
        "alter table public.notes force row level security",
        "create policy own_notes on public.notes for all to authenticated \
         using (owner = current_setting('request.jwt.claims', true)::jsonb ->> 'sub') \
         with check (owner = current_setting('request.jwt.claims', true)::jsonb ->> 'sub')",
        "grant select, insert on public.notes to anon, authenticated, service_role",
        "grant usage on sequence public.notes_id_seq to authenticated, service_role",
        "insert into public.notes (owner, body) values ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1')",
    ] {
        sqlx::query(stmt).execute(pool).await.unwrap();
    }
}

fn user(sub: &str) -> Identity {
    Identity::new(
        DbRole::Authenticated,
        json!({ "sub": sub, "aud": "authenticated" }),
    )
}

async fn visible(pool: &PgPool, who: &Identity) -> Vec<String> {
    let mut tx = identity::begin(pool, who, Access::ReadOnly).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar("select body from public.notes order by body")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

#[sqlx::test]
async fn each_user_sees_only_their_rows_anon_none_and_service_role_all(pool: PgPool) {
    notes_table(&pool).await;

    assert_eq!(visible(&pool, &user("alice")).await, ["a1", "a2"]);
    assert_eq!(visible(&pool, &user("bob")).await, ["b1"]);
    assert!(
        visible(&pool, &Identity::new(DbRole::Anon, json!({})))
            .await
            .is_empty()
    );
    assert_eq!(
        visible(&pool, &Identity::service()).await,
        ["a1", "a2", "b1"]
    );
}

#[sqlx::test]
async fn writes_are_checked_against_the_callers_claims(pool: PgPool) {
    notes_table(&pool).await;

    let mut tx = identity::begin(&pool, &user("bob"), Access::ReadWrite)
        .await
        .unwrap();
    let forged = sqlx::query("insert into public.notes (owner, body) values ('alice', 'forged')")
        .execute(&mut *tx)
        .await;
    drop(tx);

    let err = forged.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    assert_eq!(visible(&pool, &user("alice")).await, ["a1", "a2"]);
}

#[sqlx::test]
async fn read_only_transactions_refuse_writes(pool: PgPool) {
    notes_table(&pool).await;

    let mut tx = identity::begin(&pool, &user("bob"), Access::ReadOnly)
        .await
        .unwrap();
    let err = sqlx::query("insert into public.notes (owner, body) values ('bob', 'x')")
        .execute(&mut *tx)
        .await
        .unwrap_err();

    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("25006")
    );
}

#[sqlx::test]
async fn the_settings_use_supabase_names_and_end_with_the_transaction(pool: PgPool) {
    let mut who = user("carol");
    who.request = Some(RequestInfo {
        method: "PATCH".into(),
        path: "/notes".into(),
        headers: json!({"user-agent": "it's \\ tricky"}),
    });

    let mut tx = identity::begin(&pool, &who, Access::ReadWrite)
        .await
        .unwrap();
    let row: (String, String, String, String, String) = sqlx::query_as(
        "select current_user::text, current_setting('request.jwt.claims'), current_setting('request.method'), \
         current_setting('request.path'), current_setting('request.headers')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(row.0, "authenticated");
    let claims: serde_json::Value = serde_json::from_str(&row.1).unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(row.2, "PATCH");
    assert_eq!(row.3, "/notes");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.4).unwrap()["user-agent"],
        "it's \\ tricky"
    );

    // The next transaction on the same pool starts clean.
    let after: (String, Option<String>) = sqlx::query_as(
        "select current_user::text, nullif(current_setting('request.jwt.claims', true), '')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_ne!(after.0, "authenticated");
    assert_eq!(after.1, None);
}

#[sqlx::test]
async fn quoted_literals_round_trip_any_text(pool: PgPool) {
    // Quotes, backslashes, dollar signs, comment markers, non-ASCII and control characters.
    let samples = [
        "plain",
        "'",
        "''",
        "\\",
        "\\'",
        "'; drop table x; --",
        "$$",
        "$a$ x $a$",
        "/* c */",
        "é漢字🙂",
        "line\nbreak\ttab",
        "\u{7f}\u{1}",
        "E'nested'",
    ];
    for text in samples {
        let sql = format!("select {}", identity::quote_literal(text));
        let back: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, text);
    }
}

#[sqlx::test]
async fn the_roles_exist_with_the_right_attributes(pool: PgPool) {
    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "select rolname::text, rolbypassrls, rolcanlogin from pg_roles \
         where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by rolname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    assert_eq!(
        rows,
        vec![
            ("anon".into(), false, false),
            ("authenticated".into(), false, false),
            ("authenticator".into(), false, true),
            ("service_role".into(), true, false),
        ]
    );
    let can_switch: bool = sqlx::query_scalar(
        "select bool_and(pg_has_role('authenticator', r, 'MEMBER')) from unnest(array['anon','authenticated','service_role']) r",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(can_switch);
}

#[sqlx::test]
async fn claims_a_function_left_on_the_connection_do_not_reach_the_next_caller(pool: PgPool) {
    // One connection, so the second transaction runs where the first left its settings.
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let mallory = "00000000-0000-0000-0000-0000000000aa";
    let carol = "00000000-0000-0000-0000-0000000000cc";
    // A project function that sets the older per-claim settings for the whole session, as
    // PostgREST 8 and earlier did per request (`auth.uid()` and its kin read them first).
    let mut tx = identity::begin(&one, &user(mallory), Access::ReadWrite)
        .await
        .unwrap();
    sqlx::query(
        "select set_config('request.jwt.claim.sub', $1, false), \
                set_config('request.jwt.claim.role', 'service_role', false), \
                set_config('request.jwt.claim.email', 'mallory@example.com', false), \
                set_config('request.jwt.claim', $2, false)",
    )
    .bind(mallory)
    .bind(json!({ "sub": mallory, "role": "service_role" }).to_string())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut carols = user(carol);
    carols.claims["email"] = json!("carol@example.com");
    let anon = Identity::new(DbRole::Anon, json!({}));
    type Opt = Option<String>;
    type Helpers = (Opt, Opt, Opt, Opt);
    let helpers = "select auth.uid()::text, auth.role(), auth.email(), auth.jwt() ->> 'sub'";
    let mut seen = Vec::new();
    for who in [&carols, &anon] {
        let mut tx = identity::begin(&one, who, Access::ReadOnly).await.unwrap();
        let row: Helpers = sqlx::query_as(helpers).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        seen.push(row);
    }
    assert_eq!(
        seen[0],
        (
            Some(carol.to_owned()),
            Some("authenticated".to_owned()),
            Some("carol@example.com".to_owned()),
            Some(carol.to_owned()),
        ),
        "the helpers answer with the caller's own claims"
    );
    assert_eq!(
        seen[1],
        (None, Some("anon".to_owned()), None, None),
        "a field the caller's claims lack is not taken from the older settings"
    );

    // Outside a request (psql, a test script) the older settings alone still work.
    let mut tx = one.begin().await.unwrap();
    let outside: (Option<String>, Option<String>) = sqlx::query_as(
        "select auth.uid()::text, auth.role() from (select set_config('request.jwt.claims', '', true)) s",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        outside,
        (Some(mallory.to_owned()), Some("service_role".to_owned()))
    );
}
