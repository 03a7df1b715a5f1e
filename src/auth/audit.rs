//! The auth audit trail: every sign-up, login (and failed login), refresh-token reuse, logout,
//! password change, MFA event and admin action, with actor, IP, user agent and request id.

use serde_json::Value;
use sqlx::{Arguments, PgConnection, postgres::PgArguments};
use uuid::Uuid;

use super::context::ClientInfo;

/// Appends one entry to `auth.audit_log_entries`.
pub async fn record(
    conn: &mut PgConnection,
    action: &str,
    actor: Option<Uuid>,
    target: Option<Uuid>,
    client: &ClientInfo,
    payload: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into auth.audit_log_entries (action, actor_id, target_id, ip, user_agent, request_id, payload) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(action)
    .bind(actor)
    .bind(target)
    .bind(client.ip)
    .bind(&client.user_agent)
    .bind(&client.request_id)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// GoTrue's categories (`log_type`) of the actions bizbase records; every other action is a `user`
/// one (sign-up repeats, verifications, password and address changes, recovery, admin updates
/// and generated links, and any added later).
const CATEGORIES: &[(&str, &[&str])] = &[
    ("account", &["login", "login_failed", "logout"]),
    ("token", &["token_refresh_reuse", "session_revoked"]),
    (
        "team",
        &[
            "user_signedup",
            "user_invited",
            "user_deleted",
            "user_created_by_admin",
        ],
    ),
    (
        "factor",
        &[
            "factor_enrolled",
            "factor_unenrolled",
            "mfa_verified",
            "mfa_verification_failed",
            "factor_deleted_by_admin",
            "factor_updated_by_admin",
        ],
    ),
];

/// The actions taken with the service role (the admin endpoints), recorded without an actor.
/// GoTrue names the service role as their actor; so does `GET /admin/audit`.
const BY_SERVICE_ROLE: &[&str] = &[
    "user_created_by_admin",
    "user_updated_by_admin",
    "user_deleted",
    "user_invited",
    "link_generated_by_admin",
    "factor_deleted_by_admin",
    "factor_updated_by_admin",
];

/// The actor of an entry without a user for one: GoTrue's nil UUID.
const NO_ACTOR: &str = "00000000-0000-0000-0000-000000000000";

/// The category of every action outside [`CATEGORIES`].
const OTHER: &str = "user";

/// GoTrue's category of an action (`log_type` in `GET /admin/audit`, filtered by `type:`).
pub fn log_type(action: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(_, actions)| actions.contains(&action))
        .map_or(OTHER, |(category, _)| category)
}

/// Which entries `GET /admin/audit` lists: GoTrue's `query=<scope>:<text>`, the text matched
/// literally and in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every entry.
    All,
    /// The actor's address or `user_metadata.full_name` contains the text.
    Author(String),
    /// The action's name contains the text.
    Action(String),
    /// The action's [`log_type`] contains the text.
    Type(String),
}

impl Scope {
    /// Parses `query`; `None` for an unknown scope or one without `:`.
    pub fn parse(query: Option<&str>) -> Option<Self> {
        let Some(query) = query.filter(|q| !q.is_empty()) else {
            return Some(Self::All);
        };
        let (scope, text) = query.split_once(':')?;
        let text = text.to_owned();
        match scope {
            // A scope without text selects everything, as in GoTrue.
            "author" | "action" | "type" if text.is_empty() => Some(Self::All),
            "author" => Some(Self::Author(text)),
            "action" => Some(Self::Action(text)),
            "type" => Some(Self::Type(text)),
            _ => None,
        }
    }
}

/// `%text%` for `ilike`, with `text`'s own `%`, `_` and `\` taken literally.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    action: String,
    actor_id: Option<Uuid>,
    target_id: Option<Uuid>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    payload: Value,
    created_at: chrono::DateTime<chrono::Utc>,
    actor_email: Option<String>,
    actor_name: Option<Value>,
}

impl EntryRow {
    /// GoTrue's entry (`id`, `payload`, `created_at`, `ip_address`), plus bizbase's `user_agent`
    /// and `request_id`. The actor's address and name are today's (an erased actor has none).
    fn json(self) -> Value {
        let mut traits = match self.payload {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(target) = self.target_id {
            traits.insert("user_id".into(), target.to_string().into());
        }
        let username = match (self.actor_id, self.actor_email) {
            (Some(_), email) => email.unwrap_or_default(),
            (None, _) if BY_SERVICE_ROLE.contains(&self.action.as_str()) => "service_role".into(),
            (None, _) => String::new(),
        };
        let mut payload = serde_json::json!({
            "actor_id": self.actor_id.map_or_else(|| NO_ACTOR.to_owned(), |a| a.to_string()),
            "actor_username": username,
            "actor_via_sso": false,
            "action": self.action,
            "log_type": log_type(&self.action),
            "traits": traits,
        });
        if let Some(name) = self.actor_name {
            payload["actor_name"] = name;
        }
        serde_json::json!({
            "id": self.id,
            "payload": payload,
            "created_at": self.created_at,
            "ip_address": self.ip.unwrap_or_default(),
            "user_agent": self.user_agent,
            "request_id": self.request_id,
        })
    }
}

/// The entries `scope` selects, newest first: how many in all, and one page of them.
pub async fn list(
    conn: &mut PgConnection,
    scope: &Scope,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(i64, Vec<Value>)> {
    let (mut author, mut action, mut types) = (None, None, None);
    match scope {
        Scope::All => {}
        Scope::Author(text) => author = Some(contains_pattern(text)),
        Scope::Action(text) => action = Some(contains_pattern(text)),
        Scope::Type(text) => types = Some(text.to_lowercase()),
    }
    // A `type:` filter selects the actions of the categories whose names contain its text, and
    // every uncategorised action when `user` does.
    let categorised: Vec<&str> = CATEGORIES
        .iter()
        .flat_map(|(_, a)| a.iter().copied())
        .collect();
    let chosen: Option<Vec<&str>> = types.as_ref().map(|text| {
        CATEGORIES
            .iter()
            .filter(|(category, _)| category.contains(text.as_str()))
            .flat_map(|(_, a)| a.iter().copied())
            .collect()
    });
    let others = types
        .as_ref()
        .is_some_and(|text| OTHER.contains(text.as_str()));
    const FROM: &str = "from auth.audit_log_entries e left join auth.users u on u.id = e.actor_id \
        where ($1::text is null or u.email ilike $1 or u.raw_user_meta_data->>'full_name' ilike $1 \
               or (e.actor_id is null and e.action = any ($6) and 'service_role' ilike $1)) \
          and ($2::text is null or e.action ilike $2) \
          and ($3::text[] is null or e.action = any ($3) or ($4 and e.action <> all ($5)))";
    // The filters ($1–$6) once, for the count and the page (which adds $7 and $8).
    let mut filters = PgArguments::default();
    filters.add(&author).map_err(sqlx::Error::Encode)?;
    filters.add(&action).map_err(sqlx::Error::Encode)?;
    filters.add(&chosen).map_err(sqlx::Error::Encode)?;
    filters.add(others).map_err(sqlx::Error::Encode)?;
    filters.add(&categorised).map_err(sqlx::Error::Encode)?;
    filters.add(BY_SERVICE_ROLE).map_err(sqlx::Error::Encode)?;
    let total: i64 = sqlx::query_scalar_with(
        sqlx::AssertSqlSafe(format!("select count(*) {FROM}")),
        filters.clone(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut page = filters;
    page.add(limit).map_err(sqlx::Error::Encode)?;
    page.add(offset).map_err(sqlx::Error::Encode)?;
    let rows: Vec<EntryRow> = sqlx::query_as_with(
        sqlx::AssertSqlSafe(format!(
            "select e.id, e.action, e.actor_id, e.target_id, host(e.ip) as ip, e.user_agent, e.request_id, \
                    e.payload, e.created_at, u.email as actor_email, \
                    u.raw_user_meta_data->'full_name' as actor_name \
             {FROM} order by e.created_at desc, e.id desc limit $7 offset $8"
        )),
        page,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((total, rows.into_iter().map(EntryRow::json).collect()))
}

#[cfg(test)]
mod tests {
    use super::{Scope, contains_pattern, log_type};

    #[test]
    fn queries_parse_into_gotrues_scopes() {
        assert_eq!(Scope::parse(None), Some(Scope::All));
        assert_eq!(Scope::parse(Some("")), Some(Scope::All));
        assert_eq!(Scope::parse(Some("author:")), Some(Scope::All));
        assert_eq!(
            Scope::parse(Some("author:ann:x")),
            Some(Scope::Author("ann:x".into()))
        );
        assert_eq!(
            Scope::parse(Some("type:token")),
            Some(Scope::Type("token".into()))
        );
        assert_eq!(Scope::parse(Some("actor:ann")), None);
        assert_eq!(Scope::parse(Some("ann")), None);
    }

    #[test]
    fn actions_fall_into_gotrues_categories() {
        assert_eq!(log_type("login_failed"), "account");
        assert_eq!(log_type("session_revoked"), "token");
        assert_eq!(log_type("user_created_by_admin"), "team");
        assert_eq!(log_type("mfa_verified"), "factor");
        assert_eq!(log_type("user_updated_email"), "user");
        assert_eq!(log_type("anything_new"), "user");
    }

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
