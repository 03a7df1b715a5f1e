//! Admin endpoints (service role): users, their factors, generated links and invitations.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{RedirectQuery, check_password, parse_email};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{ClientInfo, ServiceRole},
        mail::{self, TokenKind},
        session, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound {
        code: "validation_failed",
        message: "user_id must be an UUID".into(),
    })
}

fn user_not_found() -> AppError {
    AppError::NotFound {
        code: "user_not_found",
        message: "User not found".into(),
    }
}

fn email_exists() -> AppError {
    AppError::Unprocessable {
        code: "email_exists",
        message: "A user with this email address has already been registered".into(),
    }
}

/// `POST|PUT /admin/users` body (`AdminUserAttributes`).
#[derive(Debug, Default, Deserialize)]
pub struct AdminUserBody {
    /// On create: the user's id, for users brought from another system with their rows.
    id: Option<String>,
    email: Option<String>,
    /// `inviteUserByEmail` sends the metadata as `data`.
    data: Option<Value>,
    password: Option<String>,
    password_hash: Option<String>,
    email_confirm: Option<bool>,
    user_metadata: Option<Value>,
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
fn metadata_or_empty(name: &str, value: Option<&Value>) -> AppResult<Value> {
    match value {
        None | Some(Value::Null) => Ok(json!({})),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(AppError::validation(format!("{name} must be an object"))),
    }
}

/// Refuses metadata that is not a JSON object (null means none).
fn check_metadata(body: &AdminUserBody) -> AppResult<()> {
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

/// `?page=&per_page=&filter=&sort=`.
#[derive(Debug, Deserialize)]
pub struct Page {
    page: Option<String>,
    per_page: Option<String>,
    /// GoTrue's search: part of the address or of `user_metadata.full_name`.
    filter: Option<String>,
    /// GoTrue's order: `created_at` (newest first), `created_at asc` or `created_at desc`.
    sort: Option<String>,
}

/// Whether `sort` asks for the oldest users first; only `created_at` can be sorted on (GoTrue).
fn oldest_first(sort: Option<&str>) -> AppResult<bool> {
    let Some(sort) = sort.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let (field, direction) = sort.split_once(' ').unwrap_or((sort, "desc"));
    if !field.eq_ignore_ascii_case("created_at") {
        return Err(AppError::bad_request(
            "validation_failed",
            format!("Bad Sort Parameters: bad field for sort '{field}'"),
        ));
    }
    match direction.trim().to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(AppError::bad_request(
            "validation_failed",
            format!(
                "Bad Sort Parameters: bad direction for sort '{other}', only 'asc' and 'desc' allowed"
            ),
        )),
    }
}

/// `GET /admin/users`: `{users, aud}` with `X-Total-Count` and `Link` (whose addresses keep the
/// request's `filter` and `sort`).
pub async fn list_users(
    State(app): State<AppState>,
    _: ServiceRole,
    Query(p): Query<Page>,
) -> AppResult<Response> {
    let (page, per_page, offset) = paging(p.page.as_deref(), p.per_page.as_deref())?;
    let filter = p.filter.as_deref().filter(|f| !f.is_empty());
    let listing = user::Listing {
        filter,
        oldest_first: oldest_first(p.sort.as_deref())?,
        limit: per_page,
        offset,
    };
    let mut conn = app.pool.acquire().await?;
    let (total, users) = user::list(&mut conn, &listing).await?;
    let mut kept = vec![];
    if let Some(filter) = filter {
        kept.push(("filter", filter));
    }
    if let Some(sort) = p.sort.as_deref().filter(|s| !s.trim().is_empty()) {
        kept.push(("sort", sort));
    }
    let headers = pagination_headers("/admin/users", page, per_page, total, &kept);
    Ok((
        headers,
        Json(json!({ "users": users, "aud": "authenticated" })),
    )
        .into_response())
}

/// `?page=&per_page=&query=` of `GET /admin/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditPage {
    page: Option<String>,
    per_page: Option<String>,
    /// `author:<text>`, `action:<text>` or `type:<text>` (GoTrue's scopes).
    query: Option<String>,
}

/// `GET /admin/audit`: the auth audit trail, newest first, in GoTrue's shape with its pagination
/// headers (`X-Total-Count`, `Link`).
pub async fn list_audit(
    State(app): State<AppState>,
    _: ServiceRole,
    Query(p): Query<AuditPage>,
) -> AppResult<Response> {
    let (page, per_page, offset) = paging(p.page.as_deref(), p.per_page.as_deref())?;
    let query = p.query.as_deref().filter(|q| !q.is_empty());
    let scope = audit::Scope::parse(query).ok_or_else(|| {
        AppError::bad_request(
            "validation_failed",
            format!("Invalid query scope: {}", query.unwrap_or_default()),
        )
    })?;
    let mut conn = app.pool.acquire().await?;
    let (total, entries) = audit::list(&mut conn, &scope, per_page, offset).await?;
    let kept: Vec<(&str, &str)> = query.map(|q| ("query", q)).into_iter().collect();
    let headers = pagination_headers("/admin/audit", page, per_page, total, &kept);
    Ok((headers, Json(Value::Array(entries))).into_response())
}

/// The page (from 1; 0 is the first page too), the page size (50 unless given, at most 1,000) and
/// the rows before the page. As GoTrue, either must be a whole number and the size at least 1:
/// anything else is refused rather than read as the default.
fn paging(page: Option<&str>, per_page: Option<&str>) -> AppResult<(i64, i64, i64)> {
    let bad = |message: String| {
        AppError::bad_request(
            "validation_failed",
            format!("Bad Pagination Parameters: {message}"),
        )
    };
    let number = |name: &str, raw: Option<&str>, default: i64| match raw.filter(|r| !r.is_empty()) {
        None => Ok(default),
        // Digits only (Go's `ParseUint`: no sign); past `i64::MAX` is just a page past the end.
        Some(raw) if raw.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(raw.parse::<i64>().unwrap_or(i64::MAX))
        }
        Some(raw) => Err(bad(format!("{name} must be a whole number, not '{raw}'"))),
    };
    let page = number("page", page, 1)?.max(1);
    let per_page = number("per_page", per_page, 50)?;
    if per_page == 0 {
        return Err(bad("per_page must be greater than 0".into()));
    }
    let per_page = per_page.min(1000);
    Ok((page, per_page, (page - 1).saturating_mul(per_page)))
}

/// GoTrue's pagination headers: `X-Total-Count`, and `Link` with the `next` (unless this is the
/// last page) and `last` pages of `path`, whose queries keep `kept`'s parameters.
fn pagination_headers(
    path: &str,
    page: i64,
    per_page: i64,
    total: i64,
    kept: &[(&str, &str)],
) -> HeaderMap {
    let last = ((total + per_page - 1) / per_page).max(1);
    // `page` first: supabase-js reads a link's page number after its first `=`.
    let kept = match url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
    {
        k if k.is_empty() => k,
        k => format!("&{k}"),
    };
    let link = |page: i64, rel: &str| {
        format!("<{path}?page={page}&per_page={per_page}{kept}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
    }
    links.push(link(last, "last"));
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert("link", v);
    }
    headers
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

/// `GET /admin/users/{id}/factors`: a bare array.
pub async fn list_factors(
    State(app): State<AppState>,
    _: ServiceRole,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut conn = app.pool.acquire().await?;
    user::find(&mut conn, id)
        .await?
        .ok_or_else(user_not_found)?;
    let factors = user::factors_of(&mut conn, id).await?;
    Ok(Json(Value::Array(
        factors.iter().map(user::FactorRow::to_json).collect(),
    )))
}

fn factor_not_found() -> AppError {
    AppError::NotFound {
        code: "mfa_factor_not_found",
        message: "Factor not found".into(),
    }
}

/// `DELETE /admin/users/{id}/factors/{factor_id}`: returns the deleted factor.
pub async fn delete_factor(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path((id, factor_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let (id, factor_id) = factor_path(&id, &factor_id)?;
    let mut tx = app.pool.begin().await?;
    let factor = super::factors::remove_factor(&mut tx, id, factor_id).await?;
    factor_answer(tx, &client, "factor_deleted_by_admin", id, &factor).await
}

/// The user and factor ids of a factor route; a malformed factor id is an unknown factor.
fn factor_path(id: &str, factor_id: &str) -> AppResult<(Uuid, Uuid)> {
    let id = parse_id(id)?;
    let factor_id = Uuid::parse_str(factor_id).map_err(|_| factor_not_found())?;
    Ok((id, factor_id))
}

/// Audits an admin's change to `factor`, commits, and answers with the factor.
async fn factor_answer(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    client: &ClientInfo,
    action: &str,
    user_id: Uuid,
    factor: &user::FactorRow,
) -> AppResult<Json<Value>> {
    audit::record(
        &mut tx,
        action,
        None,
        Some(user_id),
        client,
        json!({ "factor_id": factor.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(factor.to_json()))
}

/// `PUT /admin/users/{id}/factors/{factor_id}` body.
#[derive(Debug, Deserialize)]
pub struct FactorUpdate {
    friendly_name: Option<String>,
}

/// `PUT /admin/users/{id}/factors/{factor_id}`: renames a factor; returns it.
pub async fn update_factor(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path((id, factor_id)): Path<(String, String)>,
    AppJson(body): AppJson<FactorUpdate>,
) -> AppResult<Json<Value>> {
    let (id, factor_id) = factor_path(&id, &factor_id)?;
    let name = body
        .friendly_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AppError::validation("friendly_name is required"))?;
    let mut tx = app.pool.begin().await?;
    super::factors::ensure_name_free(&mut tx, id, &name, Some(factor_id)).await?;
    let factor: user::FactorRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update auth.mfa_factors set friendly_name = $3, updated_at = now() where id = $2 and user_id = $1 \
         returning {}",
        user::FACTOR_COLUMNS
    )))
    .bind(id)
    .bind(factor_id)
    .bind(&name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(factor_not_found)?;
    factor_answer(tx, &client, "factor_updated_by_admin", id, &factor).await
}

/// `POST /admin/generate_link` body.
#[derive(Debug, Deserialize)]
pub struct LinkBody {
    #[serde(rename = "type", default)]
    kind: String,
    email: Option<String>,
    password: Option<String>,
    new_email: Option<String>,
    data: Option<Value>,
    #[serde(rename = "redirectTo")]
    redirect: Option<String>,
}

/// `POST /admin/generate_link`: the link and code a mail would carry, without sending it.
pub async fn generate_link(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<LinkBody>,
) -> AppResult<Json<Value>> {
    let email = parse_email(body.email.as_deref())?;
    let redirect =
        mail::allowed_redirect(&app, q.redirect_to.as_deref().or(body.redirect.as_deref()));
    let data = metadata_or_empty("data", body.data.as_ref())?;
    let hash = match &body.password {
        Some(p) => {
            check_password(&app, p).await?;
            Some(app.auth.passwords.hash(p.clone()).await?)
        }
        None => None,
    };
    let mut tx = app.pool.begin().await?;
    let existing = user::find_by_email(&mut tx, &email).await?;
    let (target, kind, to) = match (body.kind.as_str(), existing) {
        ("signup", Some(_)) => return Err(email_exists()),
        ("signup", None) => {
            let h = hash.ok_or(AppError::validation(
                "Password is required for a signup link",
            ))?;
            let u = user::insert(&mut tx, &email, Some(&h), &data, &json!({}), false)
                .await?
                .ok_or_else(email_exists)?;
            (u, TokenKind::Confirmation, email.clone())
        }
        ("magiclink", Some(u)) => (u, TokenKind::MagicLink, email.clone()),
        ("magiclink", None) => {
            let u = user::insert(&mut tx, &email, None, &data, &json!({}), false)
                .await?
                .ok_or_else(email_exists)?;
            (u, TokenKind::Confirmation, email.clone())
        }
        ("recovery", Some(u)) => (u, TokenKind::Recovery, email.clone()),
        ("recovery", None) => return Err(user_not_found()),
        ("invite", Some(u)) if u.email_confirmed_at.is_some() => return Err(email_exists()),
        ("invite", Some(u)) => (u, TokenKind::Invite, email.clone()),
        ("invite", None) => {
            let u = user::insert(&mut tx, &email, None, &data, &json!({}), false)
                .await?
                .ok_or_else(email_exists)?;
            (u, TokenKind::Invite, email.clone())
        }
        ("email_change_current" | "email_change_new", Some(u)) => {
            let new_email = parse_email(body.new_email.as_deref())?;
            if user::find_by_email(&mut tx, &new_email).await?.is_some() {
                return Err(email_exists());
            }
            sqlx::query("update auth.users set email_change = $2 where id = $1")
                .bind(u.id)
                .bind(&new_email)
                .execute(&mut *tx)
                .await?;
            // Each link is one leg; the change completes once every generated leg is confirmed.
            match (body.kind.as_str(), u.email.clone()) {
                ("email_change_current", Some(current)) => {
                    (u, TokenKind::EmailChangeCurrent, current)
                }
                _ => (u, TokenKind::EmailChange, new_email),
            }
        }
        ("email_change_current" | "email_change_new", None) => return Err(user_not_found()),
        _ => return Err(AppError::validation("Invalid link type")),
    };
    let issued = mail::issue(&app, &mut tx, &target, kind, &to, &redirect, None).await?;
    audit::record(
        &mut tx,
        "link_generated_by_admin",
        None,
        Some(target.id),
        &client,
        json!({ "type": body.kind }),
    )
    .await?;
    let mut answer = user::reload_json(&mut tx, target.id).await?;
    tx.commit().await?;
    if let Some(m) = answer.as_object_mut() {
        m.insert("action_link".into(), json!(issued.action_link));
        m.insert("email_otp".into(), json!(issued.otp));
        m.insert("hashed_token".into(), json!(issued.token_hash));
        // GoTrue names the leg asked for; the link itself verifies as `email_change`.
        let verification_type = match body.kind.as_str() {
            leg @ ("email_change_current" | "email_change_new") => leg,
            _ => kind.verify_type(),
        };
        m.insert("verification_type".into(), json!(verification_type));
        m.insert("redirect_to".into(), json!(issued.redirect_to));
    }
    Ok(Json(answer))
}

/// `POST /invite {email, data}`: creates the user and e-mails an invitation.
pub async fn post_invite(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<AdminUserBody>,
) -> AppResult<Json<Value>> {
    let email = parse_email(body.email.as_deref())?;
    check_metadata(&body)?;
    let given = body.data.as_ref().filter(|v| !v.is_null());
    let data = metadata_or_empty("data", given.or(body.user_metadata.as_ref()))?;
    let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
    let mut tx = app.pool.begin().await?;
    let target = match user::find_by_email(&mut tx, &email).await? {
        Some(u) if u.email_confirmed_at.is_some() => return Err(email_exists()),
        Some(u) => u,
        None => user::insert(&mut tx, &email, None, &data, &json!({}), false)
            .await?
            .ok_or_else(email_exists)?,
    };
    mail::send(
        &app,
        &mut tx,
        &target,
        TokenKind::Invite,
        &email,
        &redirect,
        None,
    )
    .await?;
    audit::record(
        &mut tx,
        "user_invited",
        None,
        Some(target.id),
        &client,
        json!({}),
    )
    .await?;
    let json = user::reload_json(&mut tx, target.id).await?;
    tx.commit().await?;
    Ok(Json(json))
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
