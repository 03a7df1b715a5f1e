//! The business schema through `/rest/v1`: what each role of an org may see and change (a role ×
//! table × operation matrix with real tokens), isolation between orgs, the MFA policy,
//! permissions as data, the hash-chained audit log and the data-logic RPCs.
//!
//! Every test builds the same world: org A with one member per role (the admin has passed a
//! second factor) and org B with its own admin, and one or two rows in every business table of
//! each org (`FIXTURE`).

mod audit;
mod authorship;
mod customer_fields;
mod deal_status;
mod functions;
mod integrations;
mod invoices;
mod matrix;
mod same_org;
mod sentiment;
mod service;
mod subject;

use std::collections::HashMap;

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{PASSWORD, enroll, step_up, str_of, user_id};
use crate::harness::TestApp;

/// The roles of org A, in the order of the matrix.
pub const ROLES: [&str; 5] = [
    "admin",
    "sales_rep",
    "customer_service",
    "marketing_manager",
    "customer",
];

/// Creates `private.test_fixture(org, customer, staff)`: one row (and, where ownership matters,
/// a second one) in every business table of an org; returns the ids the tests refer to.
const FIXTURE: &str = include_str!("fixture.sql");

/// A member's identity and token.
pub struct Member {
    /// `auth.users.id`.
    pub id: Uuid,
    /// An access token carrying the org membership (aal2 for admins).
    pub token: String,
}

/// The world every business test starts from.
pub struct World {
    /// The running app.
    pub app: TestApp,
    /// Org A and the ids of its fixture rows.
    pub a: Uuid,
    /// Org B.
    pub b: Uuid,
    /// Fixture ids of org A by name (`ticket_own`, `deal`, …).
    pub ids: HashMap<String, Uuid>,
    /// Fixture ids of org B.
    pub ids_b: HashMap<String, Uuid>,
    /// Members of org A by role.
    pub members: HashMap<&'static str, Member>,
    /// The admin of org B.
    pub admin_b: Member,
}

impl World {
    /// Builds the world.
    pub async fn build(pool: PgPool) -> Self {
        let app = TestApp::spawn(pool).await;
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        sqlx::query("insert into public.orgs (id, name) values ($1, 'Org A'), ($2, 'Org B')")
            .bind(a)
            .bind(b)
            .execute(&app.pool)
            .await
            .unwrap();
        let mut sessions = HashMap::new();
        for role in ROLES {
            let session = app
                .signup_confirmed(&format!("{role}@a.test"), PASSWORD)
                .await;
            add_member(&app.pool, a, &user_id(&session), role).await;
            sessions.insert(role, session);
        }
        let session_b = app.signup_confirmed("admin@b.test", PASSWORD).await;
        add_member(&app.pool, b, &user_id(&session_b), "admin").await;
        let ids = fixture(&app.pool, a, &sessions["customer"], &sessions["sales_rep"]).await;
        let ids_b = fixture(&app.pool, b, &session_b, &session_b).await;
        let mut members = HashMap::new();
        for (role, session) in sessions {
            members.insert(role, member(&app, &session).await);
        }
        let admin_b = member(&app, &session_b).await;
        Self {
            app,
            a,
            b,
            ids,
            ids_b,
            members,
            admin_b,
        }
    }

    /// A `/rest/v1{path}` request with the anon key and `token`.
    pub fn rest(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(&format!("/rest/v1{path}")))
            .header("apikey", &self.app.anon_key)
            .bearer_auth(token)
    }

    /// [`Self::rest`] asking for the written rows back (`Prefer: return=representation`).
    pub fn returning(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.rest(method, path, token)
            .header("prefer", "return=representation")
    }

    /// The token of org A's member with `role`.
    pub fn token(&self, role: &str) -> &str {
        &self.members[role].token
    }

    /// A fixture id of org A.
    pub fn id(&self, name: &str) -> Uuid {
        self.ids[name]
    }
}

async fn add_member(pool: &PgPool, org: Uuid, user: &str, role: &str) {
    sqlx::query("insert into public.org_members (org_id, user_id, role) values ($1, $2, $3)")
        .bind(org)
        .bind(Uuid::parse_str(user).unwrap())
        .bind(role)
        .execute(pool)
        .await
        .unwrap();
}

async fn fixture(
    pool: &PgPool,
    org: Uuid,
    customer: &Value,
    staff: &Value,
) -> HashMap<String, Uuid> {
    sqlx::raw_sql(FIXTURE).execute(pool).await.unwrap();
    let created: Value = sqlx::query_scalar("select private.test_fixture($1, $2, $3)")
        .bind(org)
        .bind(Uuid::parse_str(&user_id(customer)).unwrap())
        .bind(Uuid::parse_str(&user_id(staff)).unwrap())
        .fetch_one(pool)
        .await
        .unwrap();
    created
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Uuid::parse_str(v.as_str().unwrap()).unwrap()))
        .collect()
}

/// Signs in again so the token carries the membership; admins also pass the second factor.
async fn member(app: &TestApp, session: &Value) -> Member {
    let email = session["user"]["email"].as_str().unwrap();
    let fresh = app.sign_in(email, PASSWORD).await;
    let token = str_of(&fresh, "access_token").to_owned();
    let is_admin = email.starts_with("admin@");
    let token = if is_admin {
        let factor = enroll(app, &token).await;
        let aal2 = step_up(app, &token, &factor).await;
        str_of(&aal2, "access_token").to_owned()
    } else {
        token
    };
    Member {
        id: Uuid::parse_str(&user_id(session)).unwrap(),
        token,
    }
}

/// The URL of the test database (for running the `bizbase` binary against it).
pub async fn database_url(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{db}"),
        None => panic!("DATABASE_URL without a database: {base}"),
    }
}

/// Asserts that a request was refused with `status` and the machine `code` of its body.
#[track_caller]
pub fn assert_refused(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

/// Sends a request and returns the status and the JSON body (`null` when empty).
pub async fn call(rb: RequestBuilder) -> (u16, Value) {
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(json!(text))
    };
    (status, body)
}

/// The ids in a JSON array of rows.
pub fn ids_of(rows: &Value) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = rows
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {rows}"))
        .iter()
        .map(|r| Uuid::parse_str(r["id"].as_str().unwrap()).unwrap())
        .collect();
    out.sort();
    out
}
