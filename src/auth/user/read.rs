//! Reading users: by id, address or for sign-in, listed for admins, and as GoTrue's User JSON.

use serde_json::Value;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{COLUMNS, FACTOR_COLUMNS, FactorRow, IdentityRow, UserRow, user_json};

/// Loads a user by id.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from auth.users where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Loads a user by id and locks the row for the rest of the transaction.
pub async fn find_for_update(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from auth.users where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Locks the row of user `id` for the rest of the transaction. Every auth write that touches more
/// than the user's row takes it first — MFA enrolment, verification and unenrolment, issuing and
/// spending an e-mailed token, exchanging a PKCE code, a password change, an account's erasure —
/// so that two of them for one user take turns instead of locking each other's rows in opposite
/// orders (a deadlock: 40P01, a 500).
///
/// Two verifications of one user's factors used to deadlock that way, and so did an erasure with a
/// verification. `for no key update` does not block the `for key share` locks of foreign-key checks
/// (inserting a session or a factor); a sign-in's update of `last_sign_in_at` does wait for such a
/// write in progress (milliseconds), and such a write for the sign-in's.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("select from auth.users where id = $1 for no key update")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Loads a user by (lower-cased) e-mail.
pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from auth.users where email = $1"
    )))
    .bind(email)
    .fetch_optional(conn)
    .await
}

/// A user with everything a sign-in answers with, loaded in one statement before the password is
/// checked, so that after it the sign-in needs only the statement that starts the session.
#[derive(Debug, Clone, FromRow)]
pub struct SignInRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    identities: sqlx::types::Json<Vec<IdentityRow>>,
    factors: sqlx::types::Json<Vec<FactorRow>>,
    /// `{org_id: role}` of the user's memberships.
    pub orgs: Option<Value>,
}

impl SignInRow {
    /// The full User JSON (with `last_sign_in_at` as given).
    pub fn json(&self, user: &UserRow) -> Value {
        user_json(user, &self.identities.0, &self.factors.0)
    }
}

/// Loads the user with `email` and what a sign-in answers with (see [`SignInRow`]).
pub async fn find_for_sign_in(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Option<SignInRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, {IDENTITIES_JSON} as identities, {FACTORS_JSON} as factors, \
                (select jsonb_object_agg(org_id::text, role) from public.org_members m where m.user_id = u.id) as orgs \
         from auth.users u where email = $1"
    )))
    .bind(email)
    .fetch_optional(conn)
    .await
}

/// A user with identities and factors, as listed to the admin.
#[derive(FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    user: UserRow,
    identities: sqlx::types::Json<Vec<IdentityRow>>,
    factors: sqlx::types::Json<Vec<FactorRow>>,
}

/// Which users the admin list shows, and in which order.
#[derive(Debug, Default)]
pub struct Listing<'a> {
    /// Part of the address or of `user_metadata.full_name`, any case (GoTrue's `filter`).
    pub filter: Option<&'a str>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    /// Page size.
    pub limit: i64,
    /// Users skipped before the page.
    pub offset: i64,
}

/// The users `listing` selects: how many match in all, and the page's full User JSONs (with
/// identities and factors, in one statement whatever the page size).
pub async fn list(
    conn: &mut PgConnection,
    listing: &Listing<'_>,
) -> sqlx::Result<(i64, Vec<Value>)> {
    // The filter is matched literally: `%` and `_` in it are not wildcards.
    let pattern = listing.filter.map(crate::auth::audit::contains_pattern);
    const MATCHES: &str =
        "($1::text is null or email ilike $1 or raw_user_meta_data->>'full_name' ilike $1)";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from auth.users where {MATCHES}"
    )))
    .bind(&pattern)
    .fetch_one(&mut *conn)
    .await?;
    let direction = if listing.oldest_first { "asc" } else { "desc" };
    let rows: Vec<ListedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, {IDENTITIES_JSON} as identities, {FACTORS_JSON} as factors \
         from auth.users u where {MATCHES} order by created_at {direction}, id limit $2 offset $3"
    )))
    .bind(&pattern)
    .bind(listing.limit)
    .bind(listing.offset)
    .fetch_all(&mut *conn)
    .await?;
    let users = rows
        .iter()
        .map(|r| user_json(&r.user, &r.identities.0, &r.factors.0))
        .collect();
    Ok((total, users))
}

/// The user's identities as a JSON array, oldest first (`u` is the user's row).
const IDENTITIES_JSON: &str = "coalesce((select json_agg(i order by i.created_at) from (select id, provider_id, \
    user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, email from auth.identities \
    where user_id = u.id) i), '[]')";

/// The user's MFA factors as a JSON array, oldest first (`u` is the user's row).
const FACTORS_JSON: &str = "coalesce((select json_agg(f order by f.created_at) from (select id, user_id, \
    friendly_name, factor_type, status, last_challenged_at, created_at, updated_at from auth.mfa_factors \
    where user_id = u.id) f), '[]')";

/// The full User JSON for `user` (identities and factors loaded).
pub async fn full_json(conn: &mut PgConnection, user: &UserRow) -> sqlx::Result<Value> {
    // Identities and factors in one round trip (this runs on every refresh).
    let (identities, factors): (
        sqlx::types::Json<Vec<IdentityRow>>,
        sqlx::types::Json<Vec<FactorRow>>,
    ) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {IDENTITIES_JSON}, {FACTORS_JSON} from (select $1::uuid as id) u"
    )))
    .bind(user.id)
    .fetch_one(conn)
    .await?;
    Ok(user_json(user, &identities.0, &factors.0))
}

/// A user's MFA factors, oldest first.
pub async fn factors_of(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<FactorRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {FACTOR_COLUMNS} from auth.mfa_factors where user_id = $1 order by created_at"
    )))
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Reloads a user after changes in this transaction and renders the full User JSON.
pub async fn reload_json(conn: &mut PgConnection, id: Uuid) -> crate::error::AppResult<Value> {
    let fresh = find(conn, id)
        .await?
        .ok_or(crate::error::AppError::NotFound {
            code: "user_not_found",
            message: "User not found".into(),
        })?;
    Ok(full_json(conn, &fresh).await?)
}
