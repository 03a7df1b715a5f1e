//! The custom access-token hook (`BIZBASE_AUTH_HOOK_CUSTOM_ACCESS_TOKEN`): a PostgreSQL function
//! that edits the claims of every access token, or refuses it.

use sqlx::PgPool;

use super::{PASSWORD, str_of};
use crate::harness::{TestApp, assert_error, claims_of, json};

const HOOK: (&str, &str) = ("AUTH_HOOK_CUSTOM_ACCESS_TOKEN", "public.custom_claims");

/// Creates the confirmed user ann@example.com without signing in (which would call the hook).
async fn create_ann(app: &TestApp) {
    let created = app
        .admin(reqwest::Method::POST, "/admin/users")
        .json(&serde_json::json!({ "email": "ann@example.com", "password": PASSWORD, "email_confirm": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
}

async fn create_hook(pool: &PgPool, body: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create or replace function public.custom_claims(event jsonb) returns jsonb language plpgsql as $$ {body} $$"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// Adds a `tier` from the user's metadata and records the method it was called for.
const ADD_TIER: &str = "begin
    return jsonb_build_object('claims', (event->'claims') || jsonb_build_object(
        'tier', coalesce((select raw_user_meta_data->>'tier' from auth.users where id = (event->>'user_id')::uuid), 'free'),
        'hooked_method', event->>'authentication_method'));
end";

#[sqlx::test]
async fn the_hook_adds_claims_at_sign_in_and_refresh(pool: PgPool) {
    create_hook(&pool, ADD_TIER).await;
    let app = TestApp::spawn_with(pool.clone(), &[HOOK]).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    sqlx::query("update auth.users set raw_user_meta_data = '{\"tier\": \"gold\"}' where email = 'ann@example.com'")
        .execute(&pool)
        .await
        .unwrap();

    let session = app.sign_in("ann@example.com", PASSWORD).await;
    let refreshed = json(app.refresh(str_of(&session, "refresh_token")).await).await;

    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(claims["tier"], "gold");
    assert_eq!(claims["hooked_method"], "password");
    assert_eq!(claims["role"], "authenticated", "the rest is kept");
    assert!(claims["app_metadata"]["orgs"].is_object());
    let again = claims_of(str_of(&refreshed, "access_token"));
    assert_eq!(again["tier"], "gold");
    let me = app
        .as_user(
            reqwest::Method::GET,
            "/user",
            str_of(&session, "access_token"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "a hooked token verifies");
}

#[sqlx::test]
async fn a_hook_error_refuses_the_token_with_its_status_and_message(pool: PgPool) {
    create_hook(
        &pool,
        "begin return jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'Account locked')); end",
    )
    .await;
    let app = TestApp::spawn_with(pool.clone(), &[HOOK]).await;
    create_ann(&app).await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;

    let body = assert_error(r, 403, "hook_rejected").await;
    assert_eq!(body["message"], "Account locked");
    let (sessions, logins): (i64, i64) = sqlx::query_as(
        "select (select count(*) from auth.sessions), \
                (select count(*) from auth.audit_log_entries where action = 'login')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (sessions, logins),
        (0, 0),
        "a refused sign-in leaves nothing behind"
    );
}

#[sqlx::test]
async fn a_hook_that_drops_a_required_claim_is_an_internal_fault(pool: PgPool) {
    create_hook(
        &pool,
        "begin return jsonb_build_object('claims', (event->'claims') - 'session_id'); end",
    )
    .await;
    let app = TestApp::spawn_with(pool.clone(), &[HOOK]).await;
    create_ann(&app).await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;

    assert_eq!(r.status(), 500);
    let body = json(r).await;
    assert!(
        !body.to_string().contains("session_id"),
        "no detail leaks: {body}"
    );
}

/// Supabase's example hook: the user's role from a table of the project, and (for the test) the
/// role the hook ran as.
const ADD_USER_ROLE: &str = "begin
    return jsonb_build_object('claims', (event->'claims') || jsonb_build_object(
        'user_role', (select role from public.user_roles where user_id = (event->>'user_id')::uuid),
        'hook_ran_as', current_user));
end";

#[sqlx::test]
async fn the_hook_runs_as_supabase_auth_admin_and_reads_what_supabases_grants_allow(pool: PgPool) {
    create_hook(&pool, ADD_USER_ROLE).await;
    sqlx::raw_sql(
        "create table public.user_roles (user_id uuid primary key, role text not null);
         alter table public.user_roles enable row level security;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::spawn_with(pool.clone(), &[HOOK]).await;
    create_ann(&app).await;
    sqlx::query("insert into public.user_roles select id, 'moderator' from auth.users where email = 'ann@example.com'")
        .execute(&pool)
        .await
        .unwrap();

    // Not granted the project's table, the hook cannot read it: no token, and no session left.
    let r = app.password_grant("ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 500);
    let sessions: i64 = sqlx::query_scalar("select count(*) from auth.sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);

    // The grants and policy of Supabase's documentation for this hook, unchanged.
    sqlx::raw_sql(
        "grant usage on schema public to supabase_auth_admin;
         grant execute on function public.custom_claims to supabase_auth_admin;
         revoke execute on function public.custom_claims from authenticated, anon, public;
         grant all on table public.user_roles to supabase_auth_admin;
         revoke all on table public.user_roles from authenticated, anon, public;
         create policy \"Allow auth admin to read user roles\" on public.user_roles
             as permissive for select to supabase_auth_admin using (true);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let session = app.sign_in("ann@example.com", PASSWORD).await;

    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(claims["user_role"], "moderator");
    assert_eq!(claims["hook_ran_as"], "supabase_auth_admin");
    assert_eq!(claims["role"], "authenticated");
    // The session the hook's transaction wrote is there: its refresh token rotates (through the
    // hook once more).
    let refreshed = app.refresh(str_of(&session, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
    let again = claims_of(str_of(&json(refreshed).await, "access_token"));
    assert_eq!(again["user_role"], "moderator");
}

#[sqlx::test]
async fn after_the_hook_the_transaction_and_the_connection_have_their_own_role_again(pool: PgPool) {
    // A careless hook that changes the role and the request's claims for the whole session —
    // also the older `request.jwt.claim.sub`, which `auth.uid()` reads first.
    create_hook(
        &pool,
        "begin
            set role authenticated;
            perform set_config('request.jwt.claims', '{\"sub\": \"someone-else\"}', false);
            perform set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-00000000000e', false);
            return jsonb_build_object('claims', event->'claims');
        end",
    )
    .await;
    let mut conn = pool.acquire().await.unwrap();
    let whoami = "select current_user::text || ' ' || coalesce(auth.uid()::text, '-')";
    let before: String = sqlx::query_scalar(whoami)
        .fetch_one(&mut *conn)
        .await
        .unwrap();

    sqlx::query("begin").execute(&mut *conn).await.unwrap();
    let caller = "00000000-0000-0000-0000-00000000000c";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "set local \"request.jwt.claims\" = '{{\"sub\": \"{caller}\"}}'"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let out: serde_json::Value = sqlx::query_scalar(
        "select private.call_access_token_hook('public.custom_claims(jsonb)'::regprocedure, \
                jsonb_build_object('claims', jsonb_build_object('r', 1)))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let in_transaction: String = sqlx::query_scalar(whoami)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query("commit").execute(&mut *conn).await.unwrap();
    let after_commit: String = sqlx::query_scalar(whoami)
        .fetch_one(&mut *conn)
        .await
        .unwrap();

    assert_eq!(out["claims"]["r"], 1);
    let login = before.split(' ').next().unwrap();
    assert_eq!(
        in_transaction,
        format!("{login} {caller}"),
        "the rest of the transaction runs as the caller, with the caller's claims"
    );
    assert_eq!(
        after_commit, before,
        "the hook's session-wide role and claims did not outlive the transaction"
    );
}

#[sqlx::test]
async fn start_up_names_what_keeps_the_hook_from_being_called(pool: PgPool) {
    let hook = bizbase::auth::hooks::HookFunction::parse("public.custom_claims").unwrap();
    let problems = || bizbase::auth::hooks::uncallable(&pool, &hook);

    let missing = problems().await.unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("does not exist"), "{missing:?}");

    create_hook(&pool, "begin return event; end").await;
    assert_eq!(
        problems().await.unwrap(),
        Vec::<String>::new(),
        "execute is PUBLIC's by default"
    );

    sqlx::raw_sql("revoke execute on function public.custom_claims from public")
        .execute(&pool)
        .await
        .unwrap();
    let revoked = problems().await.unwrap();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(revoked[0].contains("no execute"), "{revoked:?}");

    sqlx::raw_sql("grant execute on function public.custom_claims to supabase_auth_admin")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(problems().await.unwrap(), Vec::<String>::new());

    let elsewhere = bizbase::auth::hooks::HookFunction::parse("hooks.custom_claims").unwrap();
    sqlx::raw_sql(
        "create schema hooks; \
         create function hooks.custom_claims(event jsonb) returns jsonb language sql as 'select event'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let no_usage = bizbase::auth::hooks::uncallable(&pool, &elsewhere)
        .await
        .unwrap();
    assert_eq!(no_usage.len(), 1, "{no_usage:?}");
    assert!(
        no_usage[0].contains("no usage on schema hooks"),
        "{no_usage:?}"
    );
}

#[sqlx::test]
async fn the_hook_sees_no_claims_even_where_a_session_left_some(pool: PgPool) {
    // As in Supabase, where GoTrue calls the hook on a connection of its own: a hook reading
    // `auth.uid()` instead of `event->>'user_id'` must not get whoever a project function left
    // on this pooled connection for the whole session.
    create_hook(
        &pool,
        "begin
            return jsonb_build_object('claims', jsonb_build_object(
                'seen_uid', coalesce(auth.uid()::text, '-'),
                'seen_jwt', coalesce(auth.jwt()::text, '-')));
        end",
    )
    .await;
    let mut conn = pool.acquire().await.unwrap();
    let mallory = "00000000-0000-0000-0000-0000000000aa";
    sqlx::query(
        "select set_config('request.jwt.claims', jsonb_build_object('sub', $1::text)::text, false), \
                set_config('request.jwt.claim.sub', $1, false)",
    )
    .bind(mallory)
    .execute(&mut *conn)
    .await
    .unwrap();

    sqlx::query("begin").execute(&mut *conn).await.unwrap();
    let out: serde_json::Value = sqlx::query_scalar(
        "select private.call_access_token_hook('public.custom_claims(jsonb)'::regprocedure, \
                jsonb_build_object('claims', '{}'::jsonb))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query("commit").execute(&mut *conn).await.unwrap();

    assert_eq!(out["claims"]["seen_uid"], "-", "{out}");
    assert_eq!(out["claims"]["seen_jwt"], "-", "{out}");
}
