//! Who the database sees: anon, a signed-in user and the service role get different rows of an
//! RLS-protected table; the request's claims, method, path and headers are readable from SQL;
//! token and privilege failures answer 401/403 in PostgREST's shape.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use sqlx::{AssertSqlSafe, PgPool};

use super::{Rest, USER_1, USER_2, now, send, sign, strings, user_claims, user_token};

#[sqlx::test]
async fn row_level_security_decides_what_each_caller_sees(pool: PgPool) {
    let app = Rest::start(pool).await;
    let pairs = [("select", "body"), ("order", "id")];

    let anon = app.get("/notes", &pairs).await;
    let user_1 = send(app.user(USER_1, Method::GET, "/notes", &pairs)).await;
    let user_2 = send(app.user(USER_2, Method::GET, "/notes", &pairs)).await;
    let service = app.sget("/notes", &pairs).await;
    let service_token = send(
        app.anon(Method::GET, "/notes", &pairs)
            .bearer_auth(&app.service_key),
    )
    .await;

    assert_eq!(anon.status, 200, "{}", anon.text);
    assert_eq!(anon.json(), json!([]));
    assert_eq!(strings(&user_1.json(), "body"), ["u1 note a", "u1 note b"]);
    assert_eq!(strings(&user_2.json(), "body"), ["u2 note"]);
    assert_eq!(
        strings(&service.json(), "body"),
        ["u1 note a", "u1 note b", "u2 note"]
    );
    assert_eq!(service_token.json().as_array().unwrap().len(), 3);
}

#[sqlx::test]
async fn users_write_only_their_own_rows(pool: PgPool) {
    let app = Rest::start(pool).await;

    let own = send(
        app.user(USER_1, Method::POST, "/notes", &[("select", "owner,body")])
            .header("prefer", "return=representation")
            .json(&json!({"body": "mine"})),
    )
    .await;
    let others = send(
        app.user(USER_1, Method::POST, "/notes", &[])
            .json(&json!({"body": "theirs", "owner": USER_2})),
    )
    .await;
    let update_others = send(
        app.user(USER_1, Method::PATCH, "/notes", &[("id", "eq.3")])
            .header("prefer", "return=representation")
            .json(&json!({"body": "hijacked"})),
    )
    .await;
    let delete_others = send(app.user(USER_1, Method::DELETE, "/notes", &[("id", "eq.3")])).await;

    assert_eq!(own.status, 201, "{}", own.text);
    assert_eq!(own.json(), json!([{"owner": USER_1, "body": "mine"}]));
    let e = others.error(403, "42501");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("row-level security"),
        "{e}"
    );
    assert!(others.header("www-authenticate").is_some());
    assert_eq!(update_others.status, 200, "{}", update_others.text);
    assert_eq!(update_others.json(), json!([]));
    assert_eq!(delete_others.status, 204, "{}", delete_others.text);
    assert_eq!(
        app.scalar("select count(*) from public.notes where id = 3 and body = 'u2 note'")
            .await,
        1
    );
    assert_eq!(
        app.scalar("select count(*) from public.notes where body = 'theirs'")
            .await,
        0
    );
}

#[sqlx::test]
async fn anon_writes_without_privilege_are_401(pool: PgPool) {
    let app = Rest::start(pool).await;

    let insert = send(
        app.anon(Method::POST, "/notes", &[])
            .json(&json!({"body": "anon", "owner": USER_1})),
    )
    .await;
    let delete = send(app.anon(Method::DELETE, "/notes", &[("id", "eq.1")])).await;

    let e = insert.error(401, "42501");
    assert!(
        e["message"].as_str().unwrap().contains("permission denied"),
        "{e}"
    );
    assert!(insert.header("www-authenticate").is_some());
    delete.error(401, "42501");
    assert_eq!(app.scalar("select count(*) from public.notes").await, 3);
}

#[sqlx::test]
async fn an_anon_role_token_is_still_anon_for_42501(pool: PgPool) {
    let app = Rest::start(pool).await;

    // The anon key itself sent as the bearer token (what the gateway does without a session).
    let r = send(
        app.anon(Method::POST, "/notes", &[])
            .bearer_auth(&app.anon_key)
            .json(&json!({"body": "anon"})),
    )
    .await;

    r.error(401, "42501");
}

#[sqlx::test]
async fn request_settings_are_visible_to_sql(pool: PgPool) {
    let app = Rest::start(pool).await;

    let user = send(
        app.user(USER_1, Method::POST, "/rpc/whoami", &[])
            .header("x-test-header", "Yes")
            .json(&json!({})),
    )
    .await;
    let anon = app.get("/rpc/whoami", &[]).await;
    let service = app.sget("/rpc/whoami", &[]).await;

    assert_eq!(user.status, 200, "{}", user.text);
    let me = user.json();
    assert_eq!(me["role"], "authenticated");
    assert_eq!(me["uid"], USER_1);
    assert_eq!(me["claims"]["sub"], USER_1);
    assert_eq!(me["claims"]["role"], "authenticated");
    assert_eq!(me["claims"]["email"], "11111111@example.com");
    assert_eq!(me["claims"]["app_metadata"]["provider"], "email");
    assert_eq!(me["method"], "POST");
    assert_eq!(me["path"], "/rpc/whoami");
    assert_eq!(me["headers"]["x-test-header"], "Yes");
    assert!(
        me["headers"].get("authorization").is_none() && me["headers"].get("apikey").is_none(),
        "credentials are not republished: {}",
        me["headers"]
    );
    let anon = anon.json();
    assert_eq!(anon["role"], "anon");
    assert_eq!(anon["uid"], serde_json::Value::Null);
    assert_eq!(anon["claims"]["role"], "anon");
    assert_eq!(anon["method"], "GET");
    assert_eq!(service.json()["role"], "service_role");
}

#[sqlx::test]
async fn table_requests_publish_their_path_and_method(pool: PgPool) {
    sqlx::raw_sql(
        "create table public.seen (id serial primary key, method text, path text, sub text, \
           method_default text default current_setting('request.method', true), \
           path_default text default current_setting('request.path', true), \
           sub_default text default auth.uid()::text); \
         grant select, insert on public.seen to authenticated; \
         grant usage on sequence public.seen_id_seq to authenticated;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = Rest::start(pool).await;

    let r = send(
        app.user(
            USER_2,
            Method::POST,
            "/seen",
            &[("select", "method_default,path_default,sub_default")],
        )
        .header("prefer", "return=representation")
        .json(&json!({"method": "x"})),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([{"method_default": "POST", "path_default": "/seen", "sub_default": USER_2}])
    );
}

#[sqlx::test]
async fn invalid_tokens_are_pgrst301(pool: PgPool) {
    let app = Rest::start(pool).await;

    let garbage = send(
        app.anon(Method::GET, "/books", &[])
            .bearer_auth("not-a-jwt"),
    )
    .await;
    let forged = send(
        app.anon(Method::GET, "/books", &[]).bearer_auth(
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &user_claims(USER_1, now() + 3600),
                &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
            )
            .unwrap(),
        ),
    )
    .await;

    let e = garbage.error(401, "PGRST301");
    let challenge = garbage.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    assert!(e["message"].is_string());
    forged.error(401, "PGRST301");
    assert!(forged.header("www-authenticate").is_some());
}

#[sqlx::test]
async fn expired_tokens_are_pgrst303(pool: PgPool) {
    let app = Rest::start(pool).await;

    let token = sign(&user_claims(USER_1, now() - 3600));
    let r = send(app.anon(Method::GET, "/notes", &[]).bearer_auth(token)).await;

    let e = r.error(401, "PGRST303");
    assert_eq!(e["message"], "JWT expired");
    assert!(r.header("www-authenticate").is_some());
}

#[sqlx::test]
async fn unknown_roles_in_the_token_are_refused(pool: PgPool) {
    let app = Rest::start(pool).await;

    let mut claims = user_claims(USER_1, now() + 3600);
    claims["role"] = json!("postgres");
    let r = send(
        app.anon(Method::GET, "/notes", &[])
            .bearer_auth(sign(&claims)),
    )
    .await;

    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.json()["code"].as_str().unwrap().starts_with("PGRST30"));
}

#[sqlx::test]
async fn the_apikey_is_required(pool: PgPool) {
    let app = Rest::start(pool).await;

    let none = send(
        app.client
            .get(app.url("/books", &[]))
            .bearer_auth(user_token(USER_1)),
    )
    .await;
    let wrong = send(
        app.client
            .get(app.url("/books", &[]))
            .header("apikey", "nonsense"),
    )
    .await;

    assert_eq!(none.status, 401);
    assert_eq!(
        none.json(),
        json!({"message": "No API key found in request"})
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        json!({"message": "Invalid authentication credentials"})
    );
}

/// Sets `role`'s statement timeout in the test database, as an operator would.
async fn set_role_timeout(pool: &PgPool, role: &str, value: &str) {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "do $$ begin execute format('alter role {role} in database %I set statement_timeout = %L', \
         current_database(), '{value}'); end $$; notify pgrst, 'reload config';"
    )))
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn each_role_runs_under_its_own_statement_timeout(pool: PgPool) {
    let timeouts: Vec<(String, Vec<String>)> = sqlx::query_as(
        "select r.rolname::text, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole \
         where s.setdatabase = (select oid from pg_database where datname = current_database()) \
         order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        timeouts,
        vec![
            ("anon".to_owned(), vec!["statement_timeout=3s".to_owned()]),
            (
                "authenticated".to_owned(),
                vec!["statement_timeout=8s".to_owned()]
            ),
        ],
        "the migrations give the API roles Supabase's timeouts"
    );
    sqlx::raw_sql(
        "create function public.nap(s float8) returns int language sql volatile \
           as $$ select 1 from pg_sleep(s) $$; \
         grant execute on function public.nap(float8) to anon, service_role;",
    )
    .execute(&pool)
    .await
    .unwrap();
    set_role_timeout(&pool, "anon", "200ms").await;
    let app = Rest::start(pool).await;
    let nap = |who: &'static str| {
        let rb = if who == "anon" {
            app.anon(Method::POST, "/rpc/nap", &[])
        } else {
            app.service(Method::POST, "/rpc/nap", &[])
        };
        send(rb.json(&json!({"s": 0.6})))
    };

    let cancelled = nap("anon").await;
    let service = nap("service").await;

    let e = cancelled.error(500, "57014");
    assert!(
        e["message"].as_str().unwrap().contains("statement timeout"),
        "{e}"
    );
    assert_eq!(
        service.status, 200,
        "service_role has no setting of its own and gets the configured 8 s: {}",
        service.text
    );

    set_role_timeout(&app.pool, "anon", "5s").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let relaxed = loop {
        let r = nap("anon").await;
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        relaxed.status, 200,
        "a changed setting applies after NOTIFY pgrst, 'reload config': {}",
        relaxed.text
    );
}

#[sqlx::test]
async fn callers_sql_runs_without_jit_compilation(pool: PgPool) {
    // JIT compiles a costly plan before running it, past any statement timeout (a read with
    // hundreds of embeds compiled for close to a minute): the API's connections turn it off.
    sqlx::raw_sql(
        "create function public.setting(name text) returns text language sql stable \
           as $$ select current_setting(name) $$; \
         grant execute on function public.setting(text) to anon;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let owners: String = sqlx::query_scalar("select current_setting('jit')")
        .fetch_one(&pool)
        .await
        .unwrap();
    let app = Rest::start(pool).await;
    let r = send(
        app.anon(Method::POST, "/rpc/setting", &[])
            .json(&json!({"name": "jit"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!("off"), "the server's default is {owners}");
}
