//! What the role bizbase connects with (the owner of the schema) must be allowed.
//!
//! bizbase's own SQL — sign-in, invitations, erasure, jobs — works across every organization's
//! rows, partly in `security definer` functions the owner runs, on tables whose row-level security
//! is forced on their owner too. A superuser passes those policies, and so does a role with
//! `BYPASSRLS`, which managed PostgreSQL services give their administrator (or let it be granted)
//! where they give no superuser. Any other owner would meet the policies written for callers, and
//! migrating fails halfway with PostgreSQL's "stack depth limit exceeded": refuse up front instead.

use sqlx::PgPool;

/// Fails, saying what to grant, when the connected role is neither a superuser nor `BYPASSRLS`.
pub async fn check(pool: &PgPool) -> anyhow::Result<()> {
    let (name, allowed): (String, bool) = sqlx::query_as(
        "select rolname::text, rolsuper or rolbypassrls from pg_catalog.pg_roles \
         where rolname = current_user",
    )
    .fetch_one(pool)
    .await?;
    if allowed {
        return Ok(());
    }
    anyhow::bail!(
        "the database role \"{name}\" is neither a superuser nor allowed to bypass row-level \
         security, which bizbase's own SQL needs (sign-in, invitations, erasure and jobs read \
         every organization's rows). As a superuser (or, on PostgreSQL 16 and later, a role with \
         BYPASSRLS and CREATEROLE), run: alter role \"{name}\" bypassrls; — see the README, \
         \"Database roles\""
    )
}
