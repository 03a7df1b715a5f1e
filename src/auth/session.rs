//! Sessions, access tokens and rotating refresh tokens.
//!
//! A refresh token is `base64url(session id ‖ counter ‖ MAC)`: the MAC (HMAC-SHA256 under a key
//! derived from the JWT secret, truncated to 16 bytes) makes it unforgeable, and the session row
//! keeps only the current counter, so no token is ever stored. Rotation follows GoTrue's "v2"
//! rules (`reference/supabase-api.md` §2.10): the current counter advances; the one before it (a
//! client that did not save the answer, or a concurrent tab) gets the current token again; an
//! older one inside the reuse interval too; anything older revokes the whole session.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{
    context::ClientInfo,
    crypto, hooks,
    jwt::{AccessClaims, Amr},
    mail,
    user::{self, UserRow},
};
use crate::{app::AppState, error::AppResult};

/// One row of `auth.sessions`.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub aal: String,
    pub factor_id: Option<Uuid>,
    pub refresh_counter: i64,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const SESSION_COLUMNS: &str =
    "id, user_id, aal, factor_id, refresh_counter, refreshed_at, not_after, created_at";
const MAC_LEN: usize = 16;

/// Loads a session.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SESSION_COLUMNS} from auth.sessions where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Loads and locks a session for the rest of the transaction.
pub async fn find_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SESSION_COLUMNS} from auth.sessions where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The refresh token for `counter` of `session`.
pub fn refresh_token(key: &[u8], session: Uuid, counter: i64) -> String {
    let mut bytes = Vec::with_capacity(16 + 8 + MAC_LEN);
    bytes.extend_from_slice(session.as_bytes());
    bytes.extend_from_slice(&counter.to_be_bytes());
    let mac = crypto::hmac_sha256(key, &[&bytes]);
    bytes.extend_from_slice(&mac[..MAC_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session and counter a refresh token names, if its MAC is valid.
pub fn parse_refresh_token(key: &[u8], token: &str) -> Option<(Uuid, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != 16 + 8 + MAC_LEN {
        return None;
    }
    let (body, mac) = bytes.split_at(24);
    let expected = crypto::hmac_sha256(key, &[body]);
    if !crypto::ct_eq(mac, &expected[..MAC_LEN]) {
        return None;
    }
    let session = Uuid::from_slice(&body[..16]).ok()?;
    let counter = i64::from_be_bytes(body[16..24].try_into().ok()?);
    Some((session, counter))
}

/// Starts a session for `user` signed in with `method` and answers with the session JSON.
pub async fn start(
    app: &AppState,
    conn: &mut PgConnection,
    user: &UserRow,
    method: &str,
    client: &ClientInfo,
) -> AppResult<Value> {
    // One statement: the session, its first authentication method, and the sign-in time.
    let session: SessionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with s as (insert into auth.sessions (user_id, user_agent, ip) values ($1, $2, $3) returning {SESSION_COLUMNS}), \
         a as (insert into auth.mfa_amr_claims (session_id, authentication_method) select id, $4 from s), \
         u as (update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1) \
         select {SESSION_COLUMNS} from s"
    )))
    .bind(user.id)
    .bind(&client.user_agent)
    .bind(client.ip)
    .bind(method)
    .fetch_one(&mut *conn)
    .await?;
    let mut user = user.clone();
    user.last_sign_in_at = Some(session.created_at);
    respond(app, conn, &user, &session).await
}

/// Why `s` may no longer be refreshed under the configured session limits — the suffix of
/// GoTrue's `session_expired` message (`""` for the time-box) — or `None` while it may.
pub async fn why_expired(
    app: &AppState,
    conn: &mut PgConnection,
    s: &SessionRow,
) -> sqlx::Result<Option<&'static str>> {
    let limits = app.config.auth.sessions;
    let now = Utc::now();
    let past = |start: DateTime<Utc>, limit: Option<std::time::Duration>| {
        limit
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .is_some_and(|d| start + d < now)
    };
    if s.not_after.is_some_and(|t| t < now) || past(s.created_at, limits.timebox) {
        return Ok(Some(""));
    }
    if past(
        s.refreshed_at.unwrap_or(s.created_at),
        limits.inactivity_timeout,
    ) {
        return Ok(Some(" (Inactivity)"));
    }
    if limits.single_per_user {
        let newer: bool = sqlx::query_scalar(
            "select exists (select from auth.sessions where user_id = $1 and id <> $2 and created_at > $3)",
        )
        .bind(s.user_id)
        .bind(s.id)
        .bind(s.created_at)
        .fetch_one(&mut *conn)
        .await?;
        if newer {
            return Ok(Some(" (Revoked by Newer Login)"));
        }
    }
    if s.aal == "aal1" && past(s.created_at, limits.allow_low_aal) {
        let has_factor: bool = sqlx::query_scalar(
            "select exists (select from auth.mfa_factors where user_id = $1 and status = 'verified')",
        )
        .bind(s.user_id)
        .fetch_one(&mut *conn)
        .await?;
        if has_factor {
            return Ok(Some(" (Low AAL: User Needs MFA Verification)"));
        }
    }
    Ok(None)
}

/// When the access tokens of `s` must expire at the latest: its end under the time-box and, for
/// an `aal1` session of a user with a verified factor (`user_json` lists the factors), under the
/// low-AAL limit.
fn session_end(app: &AppState, s: &SessionRow, user_json: &Value) -> Option<i64> {
    let limits = app.config.auth.sessions;
    let after = |limit: Option<std::time::Duration>| {
        limit
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| s.created_at + d)
    };
    let has_factor = || {
        user_json["factors"]
            .as_array()
            .is_some_and(|fs| fs.iter().any(|f| f["status"] == "verified"))
    };
    let low_aal = if s.aal == "aal1" && has_factor() {
        after(limits.allow_low_aal)
    } else {
        None
    };
    [after(limits.timebox), low_aal, s.not_after]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.timestamp())
}

/// What a new password ends, as in GoTrue: every session of `user` except `keep` (the one that
/// changed it; `None` when an admin set it, which ends them all), and the e-mailed codes and
/// PKCE flows begun under the old password — whoever knew it may have started them.
pub async fn end_trust_in_old_password(
    conn: &mut PgConnection,
    user: Uuid,
    keep: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "with s as (delete from auth.sessions where user_id = $1 and id is distinct from $2) \
         delete from auth.flow_state where user_id = $1",
    )
    .bind(user)
    .bind(keep)
    .execute(&mut *conn)
    .await?;
    mail::void_pending(conn, user).await
}

/// Records that `session` was authenticated with `method` (now).
pub async fn add_amr(conn: &mut PgConnection, session: Uuid, method: &str) -> sqlx::Result<()> {
    sqlx::query(
        "insert into auth.mfa_amr_claims (session_id, authentication_method) values ($1, $2) \
         on conflict (session_id, authentication_method) do update set updated_at = now()",
    )
    .bind(session)
    .bind(method)
    .execute(conn)
    .await?;
    Ok(())
}

/// Signs in `who` (whose password just matched) in **one statement**: the session, its first
/// authentication method, the sign-in time (and the upgraded password hash, if any), and the
/// `login` audit entry — all or nothing without a transaction around them — then answers from
/// what [`user::find_for_sign_in`] loaded before the password was checked. With a custom
/// access-token hook, which may refuse the token, the statement and the hook share a transaction.
pub async fn start_with_password(
    app: &AppState,
    who: &user::SignInRow,
    rehash: Option<String>,
    client: &ClientInfo,
) -> AppResult<Value> {
    const METHOD: &str = "password";
    let query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with s as (insert into auth.sessions (user_id, user_agent, ip) values ($1, $2, $3) returning {SESSION_COLUMNS}), \
         a as (insert into auth.mfa_amr_claims (session_id, authentication_method) select id, $4 from s), \
         u as (update auth.users set last_sign_in_at = now(), updated_at = now(), \
                   encrypted_password = coalesce($5, encrypted_password) where id = $1), \
         l as (insert into auth.audit_log_entries (action, actor_id, target_id, ip, user_agent, request_id, payload) \
               values ('login', $1, $1, $3, $2, $6, '{{\"provider\": \"email\"}}')) \
         select {SESSION_COLUMNS} from s"
    )))
    .bind(who.user.id)
    .bind(&client.user_agent)
    .bind(client.ip)
    .bind(METHOD)
    .bind(rehash)
    .bind(&client.request_id);
    let signed_in = |session: &SessionRow| {
        let mut user = who.user.clone();
        user.last_sign_in_at = Some(session.created_at);
        let amr = vec![Amr {
            method: METHOD.to_owned(),
            timestamp: session.created_at.timestamp(),
        }];
        (user, amr)
    };
    if app.config.auth.custom_access_token_hook.is_none() {
        let mut lease = app.statements.autocommit().await?;
        let session: SessionRow = query.fetch_one(lease.conn()?).await?;
        lease.finish();
        let (user, amr) = signed_in(&session);
        return answer(
            app,
            &app.pool,
            &user,
            &session,
            amr,
            who.orgs.clone(),
            who.json(&user),
        )
        .await;
    }
    // A hook may refuse the token: then no session may remain.
    let mut tx = app.pool.begin().await?;
    let session: SessionRow = query.fetch_one(&mut *tx).await?;
    let (user, amr) = signed_in(&session);
    let json = who.json(&user);
    let answer = answer(app, &mut *tx, &user, &session, amr, who.orgs.clone(), json).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Mints the access token for `session` and answers with GoTrue's session JSON, carrying the
/// refresh token of the session's current counter.
pub async fn respond(
    app: &AppState,
    conn: &mut PgConnection,
    user: &UserRow,
    session: &SessionRow,
) -> AppResult<Value> {
    // The session's methods and the user's organizations, in one round trip.
    let (amr, orgs): (sqlx::types::Json<Vec<(String, i64)>>, Option<Value>) = sqlx::query_as(
        "select coalesce((select json_agg(json_build_array(authentication_method, extract(epoch from updated_at)::bigint) \
                 order by updated_at desc) from auth.mfa_amr_claims where session_id = $1), '[]'), \
                (select jsonb_object_agg(org_id::text, role) from public.org_members where user_id = $2)",
    )
    .bind(session.id)
    .bind(user.id)
    .fetch_one(&mut *conn)
    .await?;
    let amr = amr
        .0
        .into_iter()
        .map(|(method, timestamp)| Amr { method, timestamp })
        .collect();
    let user_json = user::full_json(conn, user).await?;
    answer(app, conn, user, session, amr, orgs, user_json).await
}

/// The session JSON: a fresh access token with these methods and organizations (passed through
/// the custom access-token hook, when one is configured, on `executor`), the refresh token of the
/// session's current counter, and the user.
async fn answer<'c, E: sqlx::PgExecutor<'c>>(
    app: &AppState,
    executor: E,
    user: &UserRow,
    session: &SessionRow,
    amr: Vec<Amr>,
    orgs: Option<Value>,
    user_json: Value,
) -> AppResult<Value> {
    let mut app_metadata = user.raw_app_meta_data.clone();
    if let Some(map) = app_metadata.as_object_mut() {
        map.insert("orgs".into(), orgs.unwrap_or_else(|| json!({})));
    }
    let iat = Utc::now().timestamp();
    let exp = iat + i64::try_from(app.config.auth.jwt_exp.as_secs()).unwrap_or(3600);
    let exp = session_end(app, session, &user_json).map_or(exp, |end| exp.min(end.max(iat)));
    let claims = AccessClaims {
        iss: format!("{}/auth/v1", app.config.public_url),
        sub: user.id.to_string(),
        aud: user.aud.clone(),
        exp,
        iat,
        email: user.email_or_empty().to_owned(),
        phone: String::new(),
        app_metadata,
        user_metadata: user.raw_user_meta_data.clone(),
        role: user.role.clone(),
        aal: session.aal.clone(),
        amr,
        session_id: session.id.to_string(),
        is_anonymous: user.is_anonymous,
    };
    let access_token = match &app.config.auth.custom_access_token_hook {
        None => app.auth.signer.sign(&claims)?,
        Some(hook) => {
            let method = claims
                .amr
                .first()
                .map(|a| a.method.clone())
                .unwrap_or_default();
            let value = serde_json::to_value(&claims).map_err(anyhow::Error::from)?;
            let custom = hooks::custom_claims(hook, executor, user.id, value, &method).await?;
            app.auth.signer.sign(&custom)?
        }
    };
    let refresh_token = refresh_token(&app.auth.refresh_key, session.id, session.refresh_counter);
    Ok(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": exp - iat,
        "expires_at": exp,
        "refresh_token": refresh_token,
        "user": user_json,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_round_trip_and_resist_forgery() {
        let key = b"refresh-key";
        let session = Uuid::new_v4();

        let token = refresh_token(key, session, 7);

        assert_eq!(parse_refresh_token(key, &token), Some((session, 7)));
        assert_eq!(parse_refresh_token(b"other-key", &token), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[23] ^= 1; // bump the counter without the key
        assert_eq!(
            parse_refresh_token(key, &URL_SAFE_NO_PAD.encode(bytes)),
            None
        );
        assert_eq!(parse_refresh_token(key, "short"), None);
    }
}
