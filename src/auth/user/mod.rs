//! The user as stored (`auth.users`) and as GoTrue shows it (`reference/supabase-api.md` §2.4).

mod read;
mod write;

pub use read::{
    Listing, SignInRow, factors_of, find, find_by_email, find_for_sign_in, find_for_update,
    full_json, list, lock, reload_json,
};
pub use write::{
    Metadata, insert, insert_anonymous, insert_with_id, mark_identity_verified, merge_metadata,
    set_identity_email,
};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::FromRow;
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

/// The columns of a [`FactorRow`] in `auth.mfa_factors`.
pub const FACTOR_COLUMNS: &str =
    "id, user_id, friendly_name, factor_type, status, last_challenged_at, created_at, updated_at";
