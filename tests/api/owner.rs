//! bizbase on a database whose owner is no superuser, as managed PostgreSQL services hand out:
//! an owner with `BYPASSRLS` migrates and runs every flow whose SQL works across organizations
//! (sign-up, org creation, invitations, the data API); one without it is refused before anything
//! is written.

use bizbase::db;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgPoolOptions};
use uuid::Uuid;

use crate::harness::{TestApp, claims_of, json, latest_mail, sign_hs256};

const PASSWORD: &str = "correct horse battery staple";

/// A login role that owns a database of its own, created by the test's superuser and dropped at
/// the end (roles are cluster-wide).
pub struct Owner {
    admin: PgPool,
    /// The role's name (also its password-less login).
    pub role: String,
    /// Its database's name.
    pub database: String,
}

impl Owner {
    /// Creates the role with `attributes` (`bypassrls`, …) and its database.
    pub async fn create(admin: &PgPool, attributes: &str) -> Self {
        let suffix = Uuid::new_v4().simple().to_string();
        let owner = Self {
            admin: admin.clone(),
            role: format!("owner_{}", &suffix[..12]),
            database: format!("owned_{}", &suffix[..12]),
        };
        for sql in [
            format!("create role {} login createrole {attributes}", owner.role),
            format!("create database {} owner {}", owner.database, owner.role),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(admin)
                .await
                .unwrap();
        }
        owner
    }

    /// A pool logged in as the owner, on its database.
    pub async fn pool(&self) -> PgPool {
        let options = self
            .admin
            .connect_options()
            .as_ref()
            .clone()
            .username(&self.role)
            .database(&self.database);
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap()
    }

    /// Drops the database and the role.
    pub async fn drop(self) {
        for sql in [
            format!("drop database {} with (force)", self.database),
            format!("drop role {}", self.role),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&self.admin)
                .await
                .unwrap();
        }
    }
}

fn rest(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(&format!("/rest/v1{path}")))
        .header("apikey", &app.anon_key)
        .bearer_auth(token)
}

fn token(session: &Value) -> &str {
    session["access_token"].as_str().unwrap()
}

/// The session's claims at `aal2`, signed (the admin's permissions need the second factor).
fn at_aal2(session: &Value) -> String {
    let mut claims = claims_of(token(session));
    claims["aal"] = json!("aal2");
    sign_hs256(&claims)
}

async fn refreshed(app: &TestApp, session: &Value) -> Value {
    let r = app
        .refresh(session["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(r.status(), 200);
    json(r).await
}

#[sqlx::test]
async fn an_owner_that_bypasses_row_level_security_without_being_a_superuser_runs_bizbase(
    admin: PgPool,
) {
    let owner = Owner::create(&admin, "bypassrls").await;
    let pool = owner.pool().await;
    db::migrate(&pool).await.unwrap();
    let superuser: bool =
        sqlx::query_scalar("select rolsuper from pg_roles where rolname = current_user")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!superuser);
    let app = TestApp::spawn(pool.clone()).await;

    // Creating an org runs the trigger that makes its creator admin, on forced row-level security.
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let r = rest(&app, Method::POST, "/orgs", token(&ann))
        .header("prefer", "return=representation")
        .json(&json!({ "name": "Acme" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let org = json(r).await[0]["id"].as_str().unwrap().to_owned();
    let ann = refreshed(&app, &ann).await;
    assert_eq!(
        claims_of(token(&ann))["app_metadata"]["orgs"],
        json!({ &org: "admin" })
    );

    // An invitation, mailed and accepted (a security-definer function adding the membership).
    let r = rest(&app, Method::POST, "/org_invitations", &at_aal2(&ann))
        .json(&json!({ "org_id": org, "email": "bob@example.com", "role": "sales_rep" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mail = latest_mail(&pool, "bob@example.com", "org_invitation")
        .await
        .expect("an invitation mail");
    let invitation = mail["text"]
        .as_str()
        .unwrap()
        .split("Accept the invitation with this token: ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let r = rest(&app, Method::POST, "/rpc/accept_invitation", token(&bob))
        .json(&json!({ "token": invitation }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let bob = refreshed(&app, &bob).await;
    assert_eq!(
        claims_of(token(&bob))["app_metadata"]["orgs"],
        json!({ &org: "sales_rep" })
    );

    // Business rows through the data API, each caller seeing what their role allows.
    let r = rest(&app, Method::POST, "/contacts", &at_aal2(&ann))
        .json(&json!({ "org_id": org, "first_name": "Carol" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = rest(
        &app,
        Method::GET,
        "/contacts?select=first_name",
        token(&bob),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(json(r).await, json!([{ "first_name": "Carol" }]));

    pool.close().await;
    owner.drop().await;
}

#[sqlx::test]
async fn an_owner_that_would_meet_row_level_security_is_refused_before_anything_is_written(
    admin: PgPool,
) {
    let owner = Owner::create(&admin, "").await;
    let pool = owner.pool().await;

    let refused = db::migrate(&pool).await.unwrap_err();

    let message = format!("{refused:#}");
    assert!(message.contains("bypassrls"), "{message}");
    assert!(message.contains(&owner.role), "{message}");
    let schemas: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname in ('auth', 'storage', 'private')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(schemas, 0);
    let recorded: Option<String> =
        sqlx::query_scalar("select to_regclass('_sqlx_migrations')::text")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, None);

    pool.close().await;
    owner.drop().await;
}
