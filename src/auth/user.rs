//! The user as stored (`auth.users`) and as GoTrue shows it (`reference/supabase-api.md` §2.4).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// Columns of `auth.users` that handlers read.
pub const COLUMNS: &str = "id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, \
    confirmation_sent_at, recovery_sent_at, email_change, email_change_sent_at, reauthentication_sent_at, \
    last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, banned_until, deleted_at, created_at, updated_at";

/// One row of `auth.users`.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub aud: String,
    pub role: String,
    pub email: Option<String>,
    pub encrypted_password: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    pub recovery_sent_at: Option<DateTime<Utc>>,
    pub email_change: Option<String>,
    pub email_change_sent_at: Option<DateTime<Utc>>,
    pub reauthentication_sent_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub raw_app_meta_data: Value,
    pub raw_user_meta_data: Value,
    pub is_anonymous: bool,
    pub banned_until: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// Whether the user is banned right now.
    pub fn is_banned(&self) -> bool {
        self.banned_until.is_some_and(|t| t > Utc::now())
    }

    /// The e-mail address, or `""`.
    pub fn email_or_empty(&self) -> &str {
        self.email.as_deref().unwrap_or("")
    }
}

/// One row of `auth.identities`.
#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct IdentityRow {
    pub id: Uuid,
    pub provider_id: String,
    pub user_id: Uuid,
    pub identity_data: Value,
    pub provider: String,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email: Option<String>,
}

/// One row of `auth.mfa_factors` (without the secret).
#[derive(Debug, Clone, FromRow, serde::Deserialize)]
pub struct FactorRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub friendly_name: Option<String>,
    pub factor_type: String,
    pub status: String,
    pub last_challenged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn rfc3339(t: &DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn put_time(map: &mut Map<String, Value>, key: &str, t: Option<&DateTime<Utc>>) {
    if let Some(t) = t {
        map.insert(key.into(), rfc3339(t));
    }
}

impl FactorRow {
    /// GoTrue's Factor JSON.
    pub fn to_json(&self) -> Value {
        let mut factor = json!({
            "id": self.id,
            "factor_type": self.factor_type,
            "status": self.status,
            "created_at": rfc3339(&self.created_at),
            "updated_at": rfc3339(&self.updated_at),
            "last_challenged_at": self.last_challenged_at.as_ref().map(rfc3339),
        });
        // GoTrue leaves an unnamed factor's `friendly_name` out.
        if let Some(name) = self.friendly_name.as_deref().filter(|n| !n.is_empty()) {
            factor["friendly_name"] = json!(name);
        }
        factor
    }
}

impl IdentityRow {
    /// GoTrue's Identity JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("identity_id".into(), json!(self.id));
        m.insert("id".into(), json!(self.provider_id));
        m.insert("user_id".into(), json!(self.user_id));
        m.insert("identity_data".into(), self.identity_data.clone());
        m.insert("provider".into(), json!(self.provider));
        put_time(&mut m, "last_sign_in_at", self.last_sign_in_at.as_ref());
        m.insert("created_at".into(), rfc3339(&self.created_at));
        m.insert("updated_at".into(), rfc3339(&self.updated_at));
        if let Some(e) = &self.email {
            m.insert("email".into(), json!(e));
        }
        Value::Object(m)
    }
}

/// GoTrue's User JSON: timestamps omitted when null, `factors` omitted when empty.
pub fn user_json(user: &UserRow, identities: &[IdentityRow], factors: &[FactorRow]) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(user.id));
    m.insert("aud".into(), json!(user.aud));
    m.insert("role".into(), json!(user.role));
    m.insert("email".into(), json!(user.email_or_empty()));
    m.insert("phone".into(), json!(""));
    put_time(
        &mut m,
        "email_confirmed_at",
        user.email_confirmed_at.as_ref(),
    );
    put_time(&mut m, "confirmed_at", user.email_confirmed_at.as_ref());
    put_time(
        &mut m,
        "confirmation_sent_at",
        user.confirmation_sent_at.as_ref(),
    );
    put_time(&mut m, "recovery_sent_at", user.recovery_sent_at.as_ref());
    put_time(
        &mut m,
        "email_change_sent_at",
        user.email_change_sent_at.as_ref(),
    );
    put_time(
        &mut m,
        "reauthentication_sent_at",
        user.reauthentication_sent_at.as_ref(),
    );
    put_time(&mut m, "invited_at", user.invited_at.as_ref());
    put_time(&mut m, "last_sign_in_at", user.last_sign_in_at.as_ref());
    put_time(&mut m, "banned_until", user.banned_until.as_ref());
    put_time(&mut m, "deleted_at", user.deleted_at.as_ref());
    if let Some(new_email) = user.email_change.as_deref().filter(|e| !e.is_empty()) {
        m.insert("new_email".into(), json!(new_email));
    }
    m.insert("app_metadata".into(), user.raw_app_meta_data.clone());
    m.insert("user_metadata".into(), user.raw_user_meta_data.clone());
    m.insert(
        "identities".into(),
        Value::Array(identities.iter().map(IdentityRow::to_json).collect()),
    );
    if !factors.is_empty() {
        m.insert(
            "factors".into(),
            Value::Array(factors.iter().map(FactorRow::to_json).collect()),
        );
    }
    m.insert("created_at".into(), rfc3339(&user.created_at));
    m.insert("updated_at".into(), rfc3339(&user.updated_at));
    m.insert("is_anonymous".into(), json!(user.is_anonymous));
    Value::Object(m)
}

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
    let pattern = listing.filter.map(super::audit::contains_pattern);
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

/// The columns of a [`FactorRow`] in `auth.mfa_factors`.
pub const FACTOR_COLUMNS: &str =
    "id, user_id, friendly_name, factor_type, status, last_challenged_at, created_at, updated_at";

/// A user's MFA factors, oldest first.
pub async fn factors_of(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<FactorRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {FACTOR_COLUMNS} from auth.mfa_factors where user_id = $1 order by created_at"
    )))
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Creates a user with its e-mail identity; `None` when the e-mail is taken.
pub async fn insert(
    conn: &mut PgConnection,
    email: &str,
    password_hash: Option<&str>,
    user_metadata: &Value,
    app_metadata_extra: &Value,
    confirmed: bool,
) -> sqlx::Result<Option<UserRow>> {
    insert_with_id(
        conn,
        None,
        email,
        password_hash,
        user_metadata,
        app_metadata_extra,
        confirmed,
    )
    .await
}

/// [`insert`] with the user's id given (an import from another system) or, with `None`, drawn.
/// A taken id fails with a unique violation on `users_pkey`.
pub async fn insert_with_id(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    email: &str,
    password_hash: Option<&str>,
    user_metadata: &Value,
    app_metadata_extra: &Value,
    confirmed: bool,
) -> sqlx::Result<Option<UserRow>> {
    let mut app_metadata = json!({ "provider": "email", "providers": ["email"] });
    if let (Some(base), Some(extra)) =
        (app_metadata.as_object_mut(), app_metadata_extra.as_object())
    {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let user: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into auth.users (id, email, encrypted_password, raw_user_meta_data, raw_app_meta_data, email_confirmed_at) \
         values (coalesce($6, gen_random_uuid()), $1, $2, $3, $4, case when $5 then now() end) \
         on conflict (email) where email is not null do nothing returning {COLUMNS}"
    )))
    .bind(email)
    .bind(password_hash)
    .bind(user_metadata)
    .bind(&app_metadata)
    .bind(confirmed)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(u) = &user {
        sqlx::query(
            "insert into auth.identities (provider_id, user_id, identity_data, provider) values ($1, $2, $3, 'email')",
        )
        .bind(u.id.to_string())
        .bind(u.id)
        .bind(json!({ "sub": u.id, "email": email, "email_verified": confirmed, "phone_verified": false }))
        .execute(conn)
        .await?;
    }
    Ok(user)
}

/// Creates an anonymous user (`signInAnonymously`): no address, no identity, `is_anonymous`.
pub async fn insert_anonymous(
    conn: &mut PgConnection,
    user_metadata: &Value,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into auth.users (raw_user_meta_data, raw_app_meta_data, is_anonymous) values ($1, '{{}}', true) \
         returning {COLUMNS}"
    )))
    .bind(user_metadata)
    .fetch_one(conn)
    .await
}

/// Records the user's new address on their e-mail identity (`verified`: whether the address is
/// confirmed) — creating the identity for a user who had none (an anonymous user becoming
/// permanent, who is then no longer anonymous).
pub async fn set_identity_email(
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    verified: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "with updated as (update auth.identities set identity_data = identity_data || \
                  jsonb_build_object('email', $2::text, 'email_verified', $3), updated_at = now() \
              where user_id = $1 and provider = 'email' returning id), \
         created as (insert into auth.identities (provider_id, user_id, identity_data, provider) \
              select $1::text, $1, jsonb_build_object('sub', $1, 'email', $2::text, 'email_verified', $3, \
                     'phone_verified', false), 'email' \
              where not exists (select from updated) returning id) \
         update auth.users set is_anonymous = false, \
                raw_app_meta_data = raw_app_meta_data || '{\"provider\": \"email\", \"providers\": [\"email\"]}' \
         where id = $1 and is_anonymous and exists (select from created)",
    )
    .bind(user_id)
    .bind(email)
    .bind(verified)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's two metadata objects.
#[derive(Debug, Clone, Copy)]
pub enum Metadata {
    /// `user_metadata` (`raw_user_meta_data`): the user's own.
    User,
    /// `app_metadata` (`raw_app_meta_data`): set by admins and the server.
    App,
}

/// Merges `patch` into the user's metadata as GoTrue does: its keys replace the stored ones, and
/// keys set to `null` are removed.
pub async fn merge_metadata(
    conn: &mut PgConnection,
    user_id: Uuid,
    which: Metadata,
    patch: &Map<String, Value>,
) -> sqlx::Result<()> {
    let column = match which {
        Metadata::User => "raw_user_meta_data",
        Metadata::App => "raw_app_meta_data",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update auth.users set {column} = (select coalesce(jsonb_object_agg(key, value), '{{}}'::jsonb) \
         from jsonb_each({column} || $2) where value <> 'null'::jsonb) where id = $1"
    )))
    .bind(user_id)
    .bind(Value::Object(patch.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the user's e-mail identity verified.
pub async fn mark_identity_verified(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update auth.identities set identity_data = identity_data || '{\"email_verified\": true}', updated_at = now() \
         where user_id = $1 and provider = 'email'",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
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
