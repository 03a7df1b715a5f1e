//! `GET|PUT /user`, `POST /logout`, `GET /reauthenticate`.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RedirectQuery, check_password, parse_email, require_aal_for_user};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{AuthUser, ClientInfo, SigningOut},
        crypto,
        mail::{self, TokenKind},
        password::Verdict,
        pkce::ChallengeFields,
        rate_limit::Group,
        session, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `GET /user`: the signed-in user, with identities and factors.
pub async fn get_user(State(app): State<AppState>, me: AuthUser) -> AppResult<Json<Value>> {
    // As GoTrue: the token's audience (a string, or the first of a list) must be the user's.
    let aud = match &me.claims["aud"] {
        Value::Array(list) => list.first().and_then(Value::as_str),
        other => other.as_str(),
    };
    if aud != Some(me.user.aud.as_str()) {
        return Err(AppError::validation(
            "Token audience doesn't match request audience",
        ));
    }
    let mut conn = app.pool.acquire().await?;
    Ok(Json(user::full_json(&mut conn, &me.user).await?))
}

/// `PUT /user` body.
#[derive(Debug, Deserialize)]
pub struct UpdateUserBody {
    email: Option<String>,
    password: Option<String>,
    data: Option<Value>,
    app_metadata: Option<Value>,
    nonce: Option<String>,
    #[serde(flatten)]
    pkce: ChallengeFields,
}

/// `PUT /user`: metadata (shallow merge, `null` deletes), password, e-mail.
pub async fn put_user(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<UpdateUserBody>,
) -> AppResult<Json<Value>> {
    if body.app_metadata.is_some() {
        return Err(AppError::Forbidden {
            code: "not_admin",
            message: "Updating app_metadata requires admin privileges".into(),
        });
    }
    // Every update counts (its own bucket, §2.12): a password change costs two argon2id runs, and
    // a reauthentication nonce must not be guessable at will.
    app.auth
        .limits
        .check(Group::UserUpdate, client.rate_key())?;
    let challenge = body.pkce.parse()?;
    let new_password = body.password.filter(|p| !p.is_empty());
    let mut same_password = false;
    let new_hash = match &new_password {
        Some(p) => {
            // Before the password is looked at: an aal1 session of a user with MFA must not
            // learn whether a guess is their current password (`same_password`) or weak.
            require_aal_for_user(
                &mut *app.pool.acquire().await?,
                &me.user,
                &me.session.aal,
                StatusCode::UNAUTHORIZED,
            )
            .await?;
            // As GoTrue: a password needs an address to sign in with (given with it; one already
            // confirmed has made the user permanent).
            if me.user.is_anonymous && body.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
                return Err(AppError::Unprocessable {
                    code: "validation_failed",
                    message: "Updating password of an anonymous user without an email or phone is \
                              not allowed"
                        .into(),
                });
            }
            // A nonce, when given, is checked (and spent) in the transaction below.
            if app.config.auth.secure_password_change
                && body.nonce.is_none()
                && me.session.created_at < chrono::Utc::now() - chrono::Duration::hours(24)
            {
                return Err(AppError::bad_request(
                    "reauthentication_needed",
                    "Password update requires reauthentication",
                ));
            }
            check_password(&app, p).await?;
            same_password = match &me.user.encrypted_password {
                Some(old) => {
                    let verdict = app.auth.passwords.verify(p.clone(), Some(old.clone()));
                    verdict.await? != Verdict::Mismatch
                }
                None => false,
            };
            match same_password {
                true => None,
                false => Some(app.auth.passwords.hash(p.clone()).await?),
            }
        }
        None => None,
    };
    let mut tx = app.pool.begin().await?;
    let current = user::find_for_update(&mut tx, me.user.id)
        .await?
        .ok_or(AppError::Forbidden {
            code: "user_not_found",
            message: "User from sub claim in JWT does not exist".into(),
        })?;
    if let Some(nonce) = body.nonce.as_deref() {
        let hash = crypto::otp_token_hash(current.email_or_empty(), nonce);
        if mail::consume(&app, &mut tx, &[TokenKind::Reauthentication], &hash)
            .await?
            .is_none()
        {
            return Err(AppError::bad_request(
                "reauthentication_not_valid",
                "Nonce has expired or is invalid",
            ));
        }
    }
    if let Some(data) = &body.data {
        let Value::Object(patch) = data else {
            return Err(AppError::validation("data must be an object"));
        };
        user::merge_metadata(&mut tx, current.id, user::Metadata::User, patch).await?;
    }
    if let Some(hash) = new_hash {
        require_aal_for_user(&mut tx, &current, &me.session.aal, StatusCode::UNAUTHORIZED).await?;
        sqlx::query("update auth.users set encrypted_password = $2 where id = $1")
            .bind(current.id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        session::end_trust_in_old_password(&mut tx, current.id, Some(me.session.id)).await?;
        audit::record(
            &mut tx,
            "user_updated_password",
            Some(current.id),
            Some(current.id),
            &client,
            json!({}),
        )
        .await?;
    }
    if let Some(raw) = body.email.as_deref().filter(|e| !e.trim().is_empty()) {
        let email = parse_email(Some(raw))?;
        if Some(email.as_str()) != current.email.as_deref() {
            require_aal_for_user(&mut tx, &current, &me.session.aal, StatusCode::UNAUTHORIZED)
                .await?;
            if user::find_by_email(&mut tx, &email).await?.is_some() {
                return Err(AppError::Unprocessable {
                    code: "email_exists",
                    message: "A user with this email address has already been registered".into(),
                });
            }
            // Even with auto-confirm the new address must be confirmed: holding a session does
            // not prove its holder owns the address.
            mail::check_frequency(&app, &current, TokenKind::EmailChange)?;
            sqlx::query("update auth.users set email_change = $2 where id = $1")
                .bind(current.id)
                .bind(&email)
                .execute(&mut *tx)
                .await?;
            let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
            let mut pending = current.clone();
            pending.email_change = Some(email.clone());
            mail::send_email_change(&app, &mut tx, &pending, &redirect, challenge.as_ref()).await?;
            audit::record(
                &mut tx,
                "user_updated_email",
                Some(current.id),
                Some(current.id),
                &client,
                json!({}),
            )
            .await?;
        }
    }
    if same_password {
        // Said only once every other part of the request has passed (and is then rolled back
        // with it): were it said sooner, a request bound to fail later (a wrong nonce, bad data, a
        // taken address) would let whoever holds a session test guesses of the password for free.
        return Err(AppError::Unprocessable {
            code: "same_password",
            message: "New password should be different from the old password.".into(),
        });
    }
    let updated = user::find(&mut tx, current.id).await?.unwrap_or(current);
    let json = user::full_json(&mut tx, &updated).await?;
    tx.commit().await?;
    Ok(Json(json))
}

/// `GET /user/identities/authorize` (linkIdentity) and `DELETE /user/identities/{id}`
/// (unlinkIdentity) for a signed-in user: identities come only from e-mail sign-up here (there are
/// no OAuth providers to link), so these answer as GoTrue does with manual linking off.
pub async fn manual_linking_disabled(_me: AuthUser) -> AppError {
    AppError::NotFound {
        code: "manual_linking_disabled",
        message: "Manual linking is disabled".into(),
    }
}

/// `?scope=` of `/logout`.
#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    scope: Option<String>,
}

/// `POST /logout?scope=global|local|others`: ends sessions; 204.
pub async fn post_logout(
    State(app): State<AppState>,
    SigningOut(me): SigningOut,
    client: ClientInfo,
    Query(q): Query<LogoutQuery>,
) -> AppResult<StatusCode> {
    let sql = match q.scope.as_deref().unwrap_or("") {
        "" | "global" => "delete from auth.sessions where user_id = $1 and ($2::uuid is not null)",
        "local" => "delete from auth.sessions where user_id = $1 and id = $2",
        "others" => "delete from auth.sessions where user_id = $1 and id <> $2",
        _ => {
            return Err(AppError::validation(
                "Unsupported logout scope: use global, local or others",
            ));
        }
    };
    let mut tx = app.pool.begin().await?;
    sqlx::query(sql)
        .bind(me.user.id)
        .bind(me.session.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        "logout",
        Some(me.user.id),
        Some(me.user.id),
        &client,
        json!({ "scope": q.scope }),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /reauthenticate`: e-mails a nonce to pass as `nonce` in `PUT /user`.
pub async fn get_reauthenticate(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
) -> AppResult<Json<Value>> {
    app.auth
        .limits
        .check(Group::Reauthenticate, client.rate_key())?;
    let email = me.user.email.clone().ok_or(AppError::validation(
        "Reauthentication requires an email address",
    ))?;
    mail::check_frequency(&app, &me.user, TokenKind::Reauthentication)?;
    let mut tx = app.pool.begin().await?;
    let redirect = app.config.auth.site_url.clone();
    mail::send(
        &app,
        &mut tx,
        &me.user,
        TokenKind::Reauthentication,
        &email,
        &redirect,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}
