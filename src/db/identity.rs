//! The identity transaction: every request that touches data runs inside a transaction that first
//! switches to the caller's database role and publishes their JWT claims under the GUC names
//! Supabase uses (`role`, `request.jwt.claims`, `request.method`, `request.path`,
//! `request.headers`), so row-level security decides what the caller sees.
//!
//! `BEGIN` and the settings travel in one simple-query message, so the identity costs no extra
//! round trip: begin (with identity), the caller's statements, commit.

use serde_json::Value;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

/// The database roles a request may run as; created by the first migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbRole {
    /// Callers without a user session (the anon key).
    Anon,
    /// Signed-in users.
    Authenticated,
    /// Trusted server-side callers; bypasses row-level security.
    ServiceRole,
}

impl DbRole {
    /// The role name in PostgreSQL (and in the JWT `role` claim).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anon => "anon",
            Self::Authenticated => "authenticated",
            Self::ServiceRole => "service_role",
        }
    }

    /// The role a JWT `role` claim maps to; unknown roles get none.
    pub fn from_claim(role: &str) -> Option<Self> {
        match role {
            "anon" => Some(Self::Anon),
            "authenticated" => Some(Self::Authenticated),
            "service_role" => Some(Self::ServiceRole),
            _ => None,
        }
    }
}

/// Whether the transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `READ WRITE`.
    ReadWrite,
    /// `READ ONLY`: writes fail with SQLSTATE 25006.
    ReadOnly,
}

/// Who is calling, as the database should see it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The role to switch to.
    pub role: DbRole,
    /// The verified JWT claims (always including `role`).
    pub claims: Value,
    /// HTTP method, path and lower-cased headers of the request, when there is one.
    pub request: Option<RequestInfo>,
    /// `statement_timeout` for the transaction, in milliseconds.
    pub statement_timeout_ms: Option<u64>,
}

/// The parts of the HTTP request that SQL may read through `current_setting('request.*')`.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path below the API prefix, e.g. `/leads`.
    pub path: String,
    /// Header names (lower case) to values, as a JSON object.
    pub headers: Value,
}

impl Identity {
    /// An identity with just a role and its claims.
    pub fn new(role: DbRole, mut claims: Value) -> Self {
        if let Value::Object(map) = &mut claims {
            map.insert("role".into(), role.as_str().into());
        }
        Self {
            role,
            claims,
            request: None,
            statement_timeout_ms: None,
        }
    }

    /// The service role, for privileged server-side work (jobs, webhook ingestion).
    pub fn service() -> Self {
        Self::new(DbRole::ServiceRole, serde_json::json!({}))
    }

    /// The statements that begin the transaction and set the identity, as one message:
    /// `BEGIN …; SET LOCAL role = …; SET LOCAL "request.jwt.claims" = …; …`. `SET LOCAL` is what
    /// `set_config(…, true)` does, without planning a query or sending the values back.
    pub fn begin_sql(&self, access: Access) -> String {
        let mode = match access {
            Access::ReadWrite => "READ WRITE",
            Access::ReadOnly => "READ ONLY",
        };
        let claims = self.claims.to_string();
        let mut sql = String::with_capacity(256 + claims.len());
        sql.push_str("BEGIN ISOLATION LEVEL READ COMMITTED ");
        sql.push_str(mode);
        push_setting(&mut sql, "role", self.role.as_str());
        push_setting(&mut sql, "request.jwt.claims", &claims);
        if let Some(ms) = self.statement_timeout_ms {
            push_setting(&mut sql, "statement_timeout", &ms.to_string());
        }
        if let Some(r) = &self.request {
            push_setting(&mut sql, "request.method", &r.method);
            push_setting(&mut sql, "request.path", &r.path);
            push_setting(&mut sql, "request.headers", &r.headers.to_string());
        }
        sql
    }
}

/// Quotes `text` as an SQL string literal that means exactly `text` whatever
/// `standard_conforming_strings` says (the `E''` form, as libpq's `PQescapeLiteral` writes it).
/// NUL cannot occur in PostgreSQL text and is dropped.
pub fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    push_literal(&mut out, text);
    out
}

/// `; SET LOCAL <name> = <value>`: a setting local to the transaction. `name` is one of the fixed
/// names above, never input.
fn push_setting(out: &mut String, name: &str, value: &str) {
    out.push_str("; SET LOCAL ");
    out.push_str(name);
    out.push_str(" = ");
    push_literal(out, value);
}

/// [`quote_literal`], appending to `out`: runs of ordinary characters are copied whole.
fn push_literal(out: &mut String, text: &str) {
    out.push_str("E'");
    let mut rest = text;
    while let Some(at) = rest.find(['\'', '\\', '\0']) {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'\'' => out.push_str("''"),
            b'\\' => out.push_str("\\\\"),
            _ => {}
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('\'');
}

/// Begins a transaction as `identity`. Dropping it without commit rolls back.
///
/// A pooled connection reused within a second is not pinged first (see `db::pool_options`); if
/// it turns out dead here, nothing has run yet, so the begin is tried once more on another.
pub async fn begin(
    pool: &PgPool,
    identity: &Identity,
    access: Access,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let sql = identity.begin_sql(access);
    match pool.begin_with(AssertSqlSafe(sql.clone())).await {
        Err(e) if connection_lost(&e) => {
            tracing::info!(error = %e, "pooled connection was dead; beginning on another");
            pool.begin_with(AssertSqlSafe(sql)).await
        }
        other => other,
    }
}

/// Whether `error` means the connection is gone (closed, reset, or its backend terminated), as
/// opposed to the statement failing.
pub(crate) fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        // 57P01..57P03: the backend was terminated or the server is shutting down / starting up.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            let c: &str = &c;
            c.starts_with("57P0") || c.starts_with("08")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes_and_backslashes() {
        assert_eq!(quote_literal("plain"), "E'plain'");
        assert_eq!(quote_literal("it's"), "E'it''s'");
        assert_eq!(
            quote_literal(r"a\'; drop table x; --"),
            r"E'a\\''; drop table x; --'"
        );
        assert_eq!(quote_literal("nul\0byte"), "E'nulbyte'");
    }

    #[test]
    fn the_role_is_always_part_of_the_claims() {
        let id = Identity::new(
            DbRole::Authenticated,
            serde_json::json!({"sub": "u1", "role": "service_role"}),
        );
        assert_eq!(id.claims["role"], "authenticated");
        assert!(
            id.begin_sql(Access::ReadOnly)
                .starts_with("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;")
        );
    }
}
