//! `bizbase seed demo`: the demo business "Acme Digital" — one user per role, and enough sales,
//! service, marketing, sites and billing data over the last ~180 days that every dashboard RPC
//! (`pipeline_summary`, `ticket_stats`, `kpi_snapshot`, `customer_history`) has something to show.
//!
//! The users are created the way sign-up creates them (`auth::user::insert`, argon2id with the
//! configured cost), with random passwords that are returned once and never stored or logged.
//! The business rows come from SQL files run in the same transaction as `service_role`.

use std::fmt::Write as _;

use anyhow::{Context, anyhow};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    auth::{password, user},
    config::auth::AuthConfig,
};

/// The demo org's name; its presence means the demo data is there.
pub const ORG_NAME: &str = "Acme Digital";

/// The demo accounts: role, e-mail, full name.
pub const USERS: [(&str, &str, &str); 5] = [
    ("admin", "admin@acme.test", "Avery Chen"),
    ("sales_rep", "sales@acme.test", "Sam Rivera"),
    ("customer_service", "support@acme.test", "Casey Brooks"),
    ("marketing_manager", "marketing@acme.test", "Morgan Patel"),
    ("customer", "customer@acme.test", "Jamie Doyle"),
];

/// The business data, in the order it is loaded (later parts use earlier parts' temp tables).
const SCRIPTS: [(&str, &str); 5] = [
    (
        "org, contacts and integrations",
        include_str!("demo_setup.sql"),
    ),
    ("sales", include_str!("demo_sales.sql")),
    ("service", include_str!("demo_service.sql")),
    ("marketing and sites", include_str!("demo_marketing.sql")),
    ("billing", include_str!("demo_billing.sql")),
];

/// Tables whose row counts the summary reports.
const COUNTED: [&str; 14] = [
    "companies",
    "contacts",
    "leads",
    "deals",
    "sales_transactions",
    "activities",
    "tickets",
    "ticket_messages",
    "campaigns",
    "campaign_metrics",
    "marketing_events",
    "site_projects",
    "subscriptions",
    "payments",
];

/// One demo account and its password (shown once).
#[derive(Debug)]
pub struct DemoUser {
    /// The org role (`admin`, `sales_rep`, …).
    pub role: &'static str,
    /// The sign-in address.
    pub email: &'static str,
    /// The user id.
    pub id: Uuid,
    /// The generated password.
    pub password: SecretString,
}

/// What a seeding run created.
#[derive(Debug)]
pub struct Seeded {
    /// The demo org.
    pub org_id: Uuid,
    /// Its default sales pipeline.
    pub pipeline_id: Uuid,
    /// The accounts, one per role.
    pub users: Vec<DemoUser>,
    /// Rows per business table (see [`COUNTED`]).
    pub counts: Vec<(&'static str, i64)>,
}

/// The result of [`seed`].
#[derive(Debug)]
pub enum Outcome {
    /// The demo data was created.
    Created(Seeded),
    /// The demo org already exists; nothing was changed.
    AlreadyPresent {
        /// The existing demo org.
        org_id: Uuid,
    },
    /// The database holds other data and `force` was not given; nothing was changed.
    Refused {
        /// Orgs in the database.
        orgs: i64,
        /// Users in the database.
        users: i64,
    },
}

/// Creates the demo org, its users and its business data in one transaction, unless the demo org
/// exists already, or the database holds other orgs or users and `force` is false.
#[tracing::instrument(skip_all, fields(force = force))]
pub async fn seed(pool: &PgPool, auth: &AuthConfig, force: bool) -> anyhow::Result<Outcome> {
    // A connection of its own: the scripts' session-scoped helpers go away with it, and sqlx's
    // slow-statement warning would otherwise log each whole script.
    let options = (*pool.connect_options())
        .clone()
        .disable_statement_logging();
    let mut conn = PgConnection::connect_with(&options).await?;
    let outcome = seed_on(&mut conn, auth, force).await;
    conn.close().await?;
    outcome
}

async fn seed_on(
    conn: &mut PgConnection,
    auth: &AuthConfig,
    force: bool,
) -> anyhow::Result<Outcome> {
    let mut tx = conn.begin().await?;
    // One seeding at a time: the second waits, then finds the org.
    sqlx::query("select pg_advisory_xact_lock(hashtext('bizbase seed demo'))")
        .execute(&mut *tx)
        .await?;
    // As service_role, so forced row-level security cannot hide an existing org.
    sqlx::query("set local role service_role")
        .execute(&mut *tx)
        .await?;
    let existing: Option<Uuid> = sqlx::query_scalar(
        "select id from public.orgs where name = $1 order by created_at limit 1",
    )
    .bind(ORG_NAME)
    .fetch_optional(&mut *tx)
    .await?;
    let orgs: i64 = sqlx::query_scalar("select count(*) from public.orgs")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("set local role none").execute(&mut *tx).await?;
    if let Some(org_id) = existing {
        return Ok(Outcome::AlreadyPresent { org_id });
    }
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&mut *tx)
        .await?;
    if (orgs > 0 || users > 0) && !force {
        return Ok(Outcome::Refused { orgs, users });
    }

    let started = std::time::Instant::now();
    let accounts = create_users(&mut tx, auth).await?;
    let context = json!({
        "org_name": ORG_NAME,
        "users": accounts.iter().map(|u| (u.role.to_owned(), json!(u.id))).collect::<Map<String, Value>>(),
        "emails": accounts.iter().map(|u| (u.role.to_owned(), json!(u.email))).collect::<Map<String, Value>>(),
    });
    sqlx::query("select set_config('bizbase.demo', $1, true)")
        .bind(context.to_string())
        .execute(&mut *tx)
        .await?;
    for (part, script) in SCRIPTS {
        sqlx::raw_sql(script)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("loading the demo {part}"))?;
    }
    let seeded = summarize(&mut tx, accounts).await?;
    tx.commit().await?;
    tracing::info!(
        org.id = %seeded.org_id,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo data seeded"
    );
    Ok(Outcome::Created(seeded))
}

/// Creates the confirmed demo users with their e-mail identities, as sign-up does.
async fn create_users(tx: &mut PgConnection, auth: &AuthConfig) -> anyhow::Result<Vec<DemoUser>> {
    let hasher = password::Passwords::new(auth.argon2);
    let mut accounts = Vec::with_capacity(USERS.len());
    for (role, email, full_name) in USERS {
        let password = generate_password(auth)?;
        let hash = hasher.hash(password.expose_secret().to_owned()).await?;
        let created = user::insert(
            &mut *tx,
            email,
            Some(&hash),
            &json!({ "full_name": full_name }),
            &json!({}),
            true,
        )
        .await?
        .ok_or_else(|| anyhow!("a user {email} exists already; remove it to seed the demo"))?;
        accounts.push(DemoUser {
            role,
            email,
            id: created.id,
            password,
        });
    }
    Ok(accounts)
}

/// Reads back the org, its pipeline and the row counts (still as `service_role`).
async fn summarize(tx: &mut PgConnection, users: Vec<DemoUser>) -> anyhow::Result<Seeded> {
    let (org_id, pipeline_id): (Uuid, Uuid) = sqlx::query_as(
        "select o.id, p.id from public.orgs o join public.pipelines p on p.org_id = o.id and p.is_default \
         where o.name = $1 and o.created_by = $2",
    )
    .bind(ORG_NAME)
    .bind(users.iter().find(|u| u.role == "admin").map(|u| u.id))
    .fetch_one(&mut *tx)
    .await?;
    let selects: Vec<String> = COUNTED
        .iter()
        .map(|t| format!("(select count(*) from public.{t} where org_id = $1)"))
        .collect();
    let row: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select array[{}]::bigint[]",
        selects.join(", ")
    )))
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Seeded {
        org_id,
        pipeline_id,
        users,
        counts: COUNTED.iter().copied().zip(row).collect(),
    })
}

/// A random password of four dash-separated groups (longer if the policy asks), holding every
/// character class, so it meets any configured policy.
fn generate_password(auth: &AuthConfig) -> anyhow::Result<SecretString> {
    // No look-alikes (0/O, 1/l/I), so the printed password can be typed.
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let all_classes: Vec<String> = ["lower", "upper", "digit", "symbol"]
        .iter()
        .map(|c| (*c).to_owned())
        .chain(auth.password_required_characters.iter().cloned())
        .collect();
    let groups = (auth.password_min_length / 5 + 1).max(4);
    let mut rng = rand::rng();
    for _ in 0..1000 {
        let mut candidate = String::with_capacity(groups * 5);
        for g in 0..groups {
            if g > 0 {
                candidate.push('-');
            }
            for _ in 0..4 {
                candidate.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
            }
        }
        if password::weakness(&candidate, auth.password_min_length, &all_classes).is_empty() {
            return Ok(SecretString::from(candidate));
        }
    }
    Err(anyhow!("could not generate a password meeting the policy"))
}

/// What `bizbase seed demo` prints for `outcome`; a refusal is an error (exit status 1).
pub fn report(outcome: &Outcome, elapsed: std::time::Duration) -> anyhow::Result<String> {
    match outcome {
        Outcome::Created(seeded) => Ok(format!(
            "Created the demo org \"{ORG_NAME}\" ({}) in {:.1} s: {}.\n\n\
             Demo accounts — the passwords are shown only this once:\n\n{}\n\
             The admin role needs a second factor (TOTP, aal2) before its permissions apply.\n",
            seeded.org_id,
            elapsed.as_secs_f64(),
            seeded.counts_line(),
            seeded.credentials_table()
        )),
        Outcome::AlreadyPresent { org_id } => Ok(format!(
            "The demo org \"{ORG_NAME}\" ({org_id}) exists already; nothing changed.\n"
        )),
        Outcome::Refused { orgs, users } => Err(anyhow!(
            "the database already holds data ({orgs} org(s), {users} user(s)); not seeding the demo \
             into it. Run `bizbase seed demo --force` to add the demo org anyway."
        )),
    }
}

impl Seeded {
    /// The credentials table printed once by `bizbase seed demo`.
    pub fn credentials_table(&self) -> String {
        let mut out = format!("{:<18}  {:<22}  password\n", "role", "e-mail");
        for u in &self.users {
            let _ = writeln!(
                out,
                "{:<18}  {:<22}  {}",
                u.role,
                u.email,
                u.password.expose_secret()
            );
        }
        out
    }

    /// One line of row counts, e.g. `500 contacts, 2000 leads, …`.
    pub fn counts_line(&self) -> String {
        self.counts
            .iter()
            .map(|(table, n)| format!("{n} {}", table.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: usize, required: &[&str]) -> AuthConfig {
        let mut src = crate::config::Sources::default();
        src.set("AUTH_PASSWORD_MIN_LENGTH", &min.to_string());
        src.set("AUTH_PASSWORD_REQUIRED_CHARACTERS", &required.join(","));
        crate::Config::from_sources(&src).unwrap().auth
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        for auth in [
            policy(8, &[]),
            policy(40, &["lower", "upper", "digit", "symbol"]),
        ] {
            let a = generate_password(&auth).unwrap();
            let b = generate_password(&auth).unwrap();

            let required = &auth.password_required_characters;
            assert!(
                password::weakness(a.expose_secret(), auth.password_min_length, required)
                    .is_empty()
            );
            assert!(a.expose_secret().len() >= auth.password_min_length.max(19));
            assert_ne!(a.expose_secret(), b.expose_secret());
        }
    }
}
