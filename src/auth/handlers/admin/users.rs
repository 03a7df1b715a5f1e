//! Admin endpoints on one user: create, read, update (address, password, ban, metadata), delete.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{email_exists, parse_id, user_not_found};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{ClientInfo, ServiceRole},
        handlers::{check_password, parse_email},
        mail, session, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `POST|PUT /admin/users` body (`AdminUserAttributes`).
#[derive(Debug, Default, Deserialize)]
pub struct AdminUserBody {
    /// On create: the user's id, for users brought from another system with their rows.
    id: Option<String>,
    pub(super) email: Option<String>,
    /// `inviteUserByEmail` sends the metadata as `data`.
    pub(super) data: Option<Value>,
    password: Option<String>,
    password_hash: Option<String>,
    email_confirm: Option<bool>,
    pub(super) user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    role: Option<String>,
    ban_duration: Option<String>,
}

/// Parses a Go-style duration (`24h`, `90m`, `1h30m`, `3600s`) or `none`.
fn parse_ban(raw: &str) -> AppResult<Option<chrono::Duration>> {
    if raw == "none" {
        return Ok(None);
    }
    let bad = || AppError::validation("ban_duration: invalid format, use e.g. 24h, 30m or none");
    let mut total = 0i64;
    let mut number = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(too_long)?;
    }
    if !number.is_empty() || total <= 0 {
        return Err(bad());
    }
    chrono::Duration::try_seconds(total)
        .ok_or_else(too_long)
        .map(Some)
}

fn too_long() -> AppError {
    AppError::validation("ban_duration: too long (use none to lift a ban)")
}

/// `value` as metadata: the object itself, or `{}` when there is none (absent or null); anything
/// else is refused.
pub(super) fn metadata_or_empty(name: &str, value: Option<&Value>) -> AppResult<Value> {
    match value {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(AppError::validation(format!("{name} must be an object"))),
    }
}

/// Refuses metadata that is not a JSON object (null means none).
pub(super) fn check_metadata(body: &AdminUserBody) -> AppResult<()> {
    for (name, value) in [
        ("user_metadata", &body.user_metadata),
        ("app_metadata", &body.app_metadata),
        ("data", &body.data),
    ] {
        metadata_or_empty(name, value.as_ref())?;
    }
    Ok(())
}

async fn hash_for(app: &AppState, body: &AdminUserBody) -> AppResult<Option<String>> {
    match (&body.password, &body.password_hash) {
        (Some(_), Some(_)) => Err(AppError::validation(
            "Only a password or a password hash should be provided",
        )),
        (Some(p), None) => {
            check_password(app, p).await?;
            Ok(Some(app.auth.passwords.hash(p.clone()).await?))
        }
        (None, Some(h)) => match app.auth.passwords.unusable(h) {
            None => Ok(Some(h.clone())),
            Some(why) => Err(AppError::validation(format!(
                "Invalid password hash: {why}"
            ))),
        },
        (None, None) => Ok(None),
    }
}

/// Applies the attributes shared by create and update.
async fn apply(conn: &mut sqlx::PgConnection, id: Uuid, body: &AdminUserBody) -> AppResult<()> {
    if let Some(Value::Object(m)) = &body.user_metadata {
        user::merge_metadata(conn, id, user::Metadata::User, m).await?;
    }
    if let Some(Value::Object(m)) = &body.app_metadata {
        user::merge_metadata(conn, id, user::Metadata::App, m).await?;
    }
    if let Some(role) = &body.role {
        sqlx::query("update auth.users set role = $2 where id = $1")
            .bind(id)
            .bind(role)
            .execute(&mut *conn)
            .await?;
    }
    if body.email_confirm == Some(true) {
        sqlx::query("update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        mail::void_confirmation(conn, id).await?;
        user::mark_identity_verified(conn, id).await?;
    }
    if let Some(ban) = &body.ban_duration {
        let until = match parse_ban(ban)? {
            Some(d) => Some(Utc::now().checked_add_signed(d).ok_or_else(too_long)?),
            None => None,
        };
        sqlx::query("update auth.users set banned_until = $2 where id = $1")
            .bind(id)
            .bind(until)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `POST /admin/users`.
pub async fn create_user(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    AppJson(body): AppJson<AdminUserBody>,
) -> AppResult<Json<Value>> {
    let email = parse_email(body.email.as_deref())?;
    let id = body
        .id
        .as_deref()
        .map(|raw| Uuid::parse_str(raw).map_err(|_| AppError::validation("id must be an UUID")))
        .transpose()?;
    check_metadata(&body)?;
    let hash = hash_for(&app, &body).await?;
    let mut tx = app.pool.begin().await?;
    let created = user::insert_with_id(
        &mut tx,
        id,
        &email,
        hash.as_deref(),
        &json!({}),
        &json!({}),
        false,
    )
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("users_pkey") => {
            AppError::Unprocessable {
                code: "user_already_exists",
                message: "A user with this id already exists".into(),
            }
        }
        _ => e.into(),
    })?
    .ok_or_else(email_exists)?;
    apply(&mut tx, created.id, &body).await?;
    audit::record(
        &mut tx,
        "user_created_by_admin",
        None,
        Some(created.id),
        &client,
        json!({}),
    )
    .await?;
    let json = user::reload_json(&mut tx, created.id).await?;
    tx.commit().await?;
    Ok(Json(json))
}

/// `GET /admin/users/{id}`.
pub async fn get_user(
    State(app): State<AppState>,
    _: ServiceRole,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut conn = app.pool.acquire().await?;
    let found = user::find(&mut conn, id)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(Json(user::full_json(&mut conn, &found).await?))
}

/// `PUT /admin/users/{id}`.
pub async fn update_user(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path(id): Path<String>,
    AppJson(body): AppJson<AdminUserBody>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    check_metadata(&body)?;
    let hash = hash_for(&app, &body).await?;
    let mut tx = app.pool.begin().await?;
    let found = user::find_for_update(&mut tx, id)
        .await?
        .ok_or_else(user_not_found)?;
    if let Some(raw) = &body.email {
        let email = parse_email(Some(raw))?;
        if Some(email.as_str()) != found.email.as_deref() {
            if user::find_by_email(&mut tx, &email).await?.is_some() {
                return Err(email_exists());
            }
            sqlx::query("update auth.users set email = $2 where id = $1")
                .bind(id)
                .bind(&email)
                .execute(&mut *tx)
                .await?;
            // The e-mail identity follows (GoTrue's too), verified as the user's address was.
            let verified = found.email_confirmed_at.is_some();
            user::set_identity_email(&mut tx, id, &email, verified).await?;
            mail::void_pending(&mut tx, id).await?;
        }
    }
    if let Some(hash) = hash {
        sqlx::query("update auth.users set encrypted_password = $2 where id = $1")
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        session::end_trust_in_old_password(&mut tx, id, None).await?;
    }
    apply(&mut tx, id, &body).await?;
    audit::record(
        &mut tx,
        "user_updated_by_admin",
        None,
        Some(id),
        &client,
        json!({}),
    )
    .await?;
    let json = user::reload_json(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(json))
}

/// `DELETE /admin/users/{id}` body.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteBody {
    should_soft_delete: Option<bool>,
}

/// `DELETE /admin/users/{id}`: hard delete, or (soft) anonymize and mark deleted.
pub async fn delete_user(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path(id): Path<String>,
    AppJson(body): AppJson<DeleteBody>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut tx = app.pool.begin().await?;
    user::find_for_update(&mut tx, id)
        .await?
        .ok_or_else(user_not_found)?;
    if body.should_soft_delete == Some(true) {
        sqlx::query(
            "update auth.users set email = null, encrypted_password = null, email_change = null, \
             raw_user_meta_data = '{}', raw_app_meta_data = '{}', deleted_at = now() where id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // What signs in, and (as a hard delete's cascade) the memberships: row-level security
        // reads them live, so the access token the user still holds opens no organization's data.
        for table in [
            "auth.sessions",
            "auth.identities",
            "auth.mfa_factors",
            "auth.one_time_tokens",
            "auth.mfa_recovery_codes",
            "auth.flow_state",
            "public.org_members",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from {table} where user_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    } else {
        sqlx::query("delete from auth.users where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        "user_deleted",
        None,
        Some(id),
        &client,
        json!({ "soft": body.should_soft_delete == Some(true) }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::parse_ban;

    #[test]
    fn ban_durations_parse_like_go() {
        assert_eq!(parse_ban("24h").unwrap().unwrap().num_seconds(), 86_400);
        assert_eq!(parse_ban("1h30m").unwrap().unwrap().num_seconds(), 5_400);
        assert!(parse_ban("none").unwrap().is_none());
        for bad in ["", "10", "5d", "h", "-1h"] {
            assert!(parse_ban(bad).is_err(), "{bad}");
        }
    }
}
