//! The role the API's callers' SQL logs in as (`db::api`): `authenticator`, so SQL that leaves the
//! caller's role (`RESET ROLE`) lands on a role without rights, never on the owner.

use bizbase::{AppState, Config, config::Sources};
use reqwest::Method;
use serde_json::json;
use sqlx::{AssertSqlSafe, PgPool};

use super::{Rest, USER_1, send};

/// Functions a project might ship with an injection in them: SQL that leaves the caller's role.
const ESCAPES: &str = r#"
create function public.after_reset() returns json language plpgsql as $$
declare
    found json;
begin
    reset role;
    select json_build_object('user', current_user, 'superuser', rolsuper, 'session', session_user)
      into found from pg_roles where rolname = current_user;
    return found;
end $$;

create function public.to_owner() returns text language plpgsql as $$
declare
    owner text;
begin
    select r.rolname into owner from pg_database d join pg_roles r on r.oid = d.datdba
     where d.datname = current_database();
    reset role;
    execute format('set role %I', owner);
    return current_user;
end $$;

create function public.count_accounts() returns bigint language plpgsql as $$
begin
    reset role;
    return (select count(*) from auth.users);
end $$;

grant execute on function public.after_reset(), public.to_owner(), public.count_accounts()
   to anon, authenticated, service_role;
"#;

#[sqlx::test]
async fn sql_that_leaves_the_callers_role_lands_on_authenticator(pool: PgPool) {
    sqlx::raw_sql(ESCAPES).execute(&pool).await.unwrap();
    let app = Rest::serve(pool, &[]).await;

    for rb in [
        app.anon(Method::POST, "/rpc/after_reset", &[]),
        app.user(USER_1, Method::POST, "/rpc/after_reset", &[]),
        app.service(Method::POST, "/rpc/after_reset", &[]),
    ] {
        let r = send(rb.json(&json!({}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.json(),
            json!({"user": "authenticator", "superuser": false, "session": "authenticator"})
        );
    }
}

#[sqlx::test]
async fn a_callers_sql_cannot_become_the_owner_or_read_the_servers_tables(pool: PgPool) {
    sqlx::raw_sql(ESCAPES).execute(&pool).await.unwrap();
    let app = Rest::serve(pool, &[]).await;

    let owner = send(
        app.user(USER_1, Method::POST, "/rpc/to_owner", &[])
            .json(&json!({})),
    )
    .await;
    let accounts = send(
        app.service(Method::POST, "/rpc/count_accounts", &[])
            .json(&json!({})),
    )
    .await;

    let e = owner.error(403, "42501");
    assert!(e["message"].as_str().unwrap().contains("set role"), "{e}");
    let e = accounts.error(403, "42501");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("permission denied for schema auth"),
        "{e}"
    );
}

/// Application state over `pool` with extra settings (keys without `BIZBASE_`).
async fn state(pool: &PgPool, settings: &[(&'static str, &str)]) -> anyhow::Result<AppState> {
    let data_dir = tempfile::tempdir().unwrap();
    let mut src = Sources::default();
    src.set("DATA_DIR", &data_dir.path().to_string_lossy());
    src.set("JWT_SECRET", super::SECRET);
    for (k, v) in settings {
        src.set(k, v);
    }
    AppState::new(Config::from_sources(&src).unwrap(), pool.clone()).await
}

async fn login(pool: &PgPool) -> String {
    sqlx::query_scalar("select session_user::text")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `postgres://<user>@<the test database's host, port and name>`.
fn url_as(pool: &PgPool, user: &str) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{user}@{}:{}/{}",
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap()
    )
}

#[sqlx::test]
async fn without_a_setting_the_api_logs_in_as_authenticator_beside_the_owner(pool: PgPool) {
    let app = state(&pool, &[]).await.unwrap();

    assert_eq!(login(&app.api_pool).await, "authenticator");
    assert_eq!(login(&app.pool).await, login(&pool).await);
}

#[sqlx::test]
async fn where_authenticator_may_not_log_in_the_api_runs_on_the_owners_pool(pool: PgPool) {
    let db = pool.connect_options().get_database().unwrap().to_owned();
    sqlx::query(AssertSqlSafe(format!(
        "revoke connect on database \"{db}\" from public"
    )))
    .execute(&pool)
    .await
    .unwrap();

    let app = state(&pool, &[]).await.unwrap();

    assert_eq!(login(&app.api_pool).await, login(&pool).await);
}

#[sqlx::test]
async fn the_api_database_url_names_the_login_and_a_bad_one_stops_start_up(pool: PgPool) {
    sqlx::raw_sql(
        "do $$ begin create role bizbase_test_plain login; \
         exception when duplicate_object or unique_violation then null; end $$",
    )
    .execute(&pool)
    .await
    .unwrap();

    let named = url_as(&pool, "authenticator");
    let app = state(&pool, &[("API_DATABASE_URL", &named)]).await.unwrap();
    assert_eq!(login(&app.api_pool).await, "authenticator");

    let plain = url_as(&pool, "bizbase_test_plain");
    let e = state(&pool, &[("API_DATABASE_URL", &plain)])
        .await
        .unwrap_err();
    let shown = format!("{e:#}");
    assert!(shown.starts_with("BIZBASE_API_DATABASE_URL"), "{shown}");
    assert!(
        shown.contains("may not switch to anon, authenticated and service_role"),
        "{shown}"
    );

    let no_login = url_as(&pool, "anon");
    let e = state(&pool, &[("API_DATABASE_URL", &no_login)])
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").starts_with("BIZBASE_API_DATABASE_URL: cannot connect"),
        "{e:#}"
    );
}

/// Backends connected to the database `db`, seen from the `postgres` database.
async fn backends(db: &str) -> i64 {
    let url = std::env::var("DATABASE_URL").unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query_scalar("select count(*) from pg_stat_activity where datname = $1")
        .bind(db)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[sqlx::test]
async fn closing_the_owners_pool_ends_every_connection_of_the_app(pool: PgPool) {
    let db = pool.connect_options().get_database().unwrap().to_owned();
    let app = Rest::start(pool.clone()).await;
    // The first data-API request loads the schema cache (which starts its reload listener) and
    // reads on the API's pool.
    let r = app.get("/books", &[("select", "id")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let logins: Vec<String> = sqlx::query_scalar(
        "select distinct usename::text from pg_stat_activity where datname = $1 order by 1",
    )
    .bind(&db)
    .fetch_all(&pool)
    .await
    .unwrap();
    let owner = pool.connect_options().get_username().to_owned();
    let mut expected = vec!["authenticator".to_owned(), owner];
    expected.sort();
    assert_eq!(logins, expected);

    pool.close().await;
    let mut left = backends(&db).await;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = backends(&db).await;
    }
    assert_eq!(left, 0, "connections left open after the pool closed");
}
