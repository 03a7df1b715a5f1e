//! `POST /admin/generate_link` and `POST /invite`: the links a mail would carry, and invitations.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    email_exists, user_not_found,
    users::{AdminUserBody, check_metadata, metadata_or_empty},
};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{ClientInfo, ServiceRole},
        handlers::{RedirectQuery, check_password, parse_email},
        mail::{self, TokenKind},
        user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

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
