//! `POST /verify` (verifyOtp) and `GET /verify` (the link in the e-mail).

mod location;

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use location::{error_location, message_location, with_query};

use super::parse_email;
use crate::{
    app::AppState,
    auth::{
        audit,
        context::ClientInfo,
        crypto,
        mail::{self, Consumed, TokenKind},
        pkce,
        rate_limit::Group,
        session,
        user::{self, UserRow},
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `POST /verify` body: `{type, token_hash}` or `{type, token, email}`.
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    token_hash: Option<String>,
    token: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

fn kinds_for(kind: &str) -> AppResult<&'static [TokenKind]> {
    Ok(match kind {
        "signup" => &[TokenKind::Confirmation],
        "recovery" => &[TokenKind::Recovery],
        "magiclink" => &[TokenKind::MagicLink],
        "email" => &[TokenKind::Confirmation, TokenKind::MagicLink],
        "invite" => &[TokenKind::Invite],
        "email_change" => &[TokenKind::EmailChange, TokenKind::EmailChangeCurrent],
        _ => return Err(AppError::validation("Verify requires a verification type")),
    })
}

/// GoTrue's answer to the first confirmed leg of a secure e-mail change.
const FIRST_LEG: &str =
    "Confirmation link accepted. Please proceed to confirm link sent to the other email";

/// What a consumed token achieved.
enum Applied {
    /// Its proof is complete: the user as they are now, and the PKCE flow the token began, if any.
    Done(Box<UserRow>, Option<Uuid>),
    /// One leg of a secure e-mail change; the other address has yet to confirm.
    FirstLeg,
}

/// What a verification answers with.
enum Verified {
    /// A new session (GoTrue's session JSON).
    Session(Value),
    /// The first leg of a secure e-mail change was accepted.
    FirstLeg,
}

fn expired() -> AppError {
    AppError::Forbidden {
        code: "otp_expired",
        message: "Token has expired or is invalid".into(),
    }
}

/// Consumes the token and applies what it proves (a confirmed address, a new e-mail), in `tx`.
/// An e-mail change completes when its last outstanding leg is confirmed: the new address, and
/// with secure e-mail change also the current one, in either order.
async fn apply(
    app: &AppState,
    tx: &mut PgConnection,
    client: &ClientInfo,
    kind: &str,
    token_hash: &str,
) -> AppResult<Applied> {
    let kinds = kinds_for(kind)?;
    let Consumed {
        kind: used,
        user_id,
        address,
        flow,
    } = mail::consume(app, tx, kinds, token_hash)
        .await?
        .ok_or_else(expired)?;
    let found = user::find_for_update(tx, user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(expired)?;
    if found.is_banned() {
        return Err(AppError::Forbidden {
            code: "user_banned",
            message: "User is banned".into(),
        });
    }
    let was_unconfirmed = found.email_confirmed_at.is_none();
    if matches!(used, TokenKind::EmailChange | TokenKind::EmailChangeCurrent) {
        let Some(new_address) = found.email_change.clone() else {
            return Err(expired());
        };
        let (this_leg_holds, other) = match used {
            TokenKind::EmailChange => (address == new_address, TokenKind::EmailChangeCurrent),
            _ => (
                found.email.as_deref() == Some(address.as_str()),
                TokenKind::EmailChange,
            ),
        };
        if !this_leg_holds {
            return Err(expired());
        }
        let other_pending: bool = sqlx::query_scalar(
            "select exists (select from auth.one_time_tokens where user_id = $1 and token_type = $2)",
        )
        .bind(found.id)
        .bind(other.db_name())
        .fetch_one(&mut *tx)
        .await?;
        if other_pending {
            audit::record(
                tx,
                "user_verified",
                Some(found.id),
                Some(found.id),
                client,
                serde_json::json!({ "type": kind, "leg": used.db_name() }),
            )
            .await?;
            return Ok(Applied::FirstLeg);
        }
        let address = new_address;
        // The address may have been registered by someone else since the change was asked for.
        if user::find_by_email(tx, &address)
            .await?
            .is_some_and(|other| other.id != found.id)
        {
            return Err(AppError::Unprocessable {
                code: "email_exists",
                message: "A user with this email address has already been registered".into(),
            });
        }
        sqlx::query("update auth.users set email = email_change, email_change = null, email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1")
            .bind(found.id)
            .execute(&mut *tx)
            .await?;
        user::set_identity_email(tx, found.id, &address, true).await?;
        // The address is confirmed now: an unspent sign-up link no longer signs anyone in (the
        // other branch voids it with the rest of the sign-in links).
        if was_unconfirmed {
            mail::void_confirmation(tx, found.id).await?;
        }
    } else {
        // A token mailed to an address the account no longer has (an admin changed it) proves
        // nothing about the account's address now.
        if found.email.as_deref() != Some(address.as_str()) {
            return Err(expired());
        }
        // A password set while the address was unconfirmed was chosen by whoever signed up, who
        // need not own the address. Its owner now proves ownership with a link no sign-up sent (a
        // magic link, a recovery, an invitation): that password must not let the sign-up's author
        // in (pre-account takeover), so it goes. A sign-up confirmation keeps it: it confirms the
        // sign-up that chose it (a second sign-up with another password left none to keep).
        let unproven_password = was_unconfirmed
            && found.encrypted_password.is_some()
            && matches!(
                used,
                TokenKind::MagicLink | TokenKind::Recovery | TokenKind::Invite
            );
        sqlx::query(
            "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), \
             encrypted_password = case when $2 then null else encrypted_password end where id = $1",
        )
        .bind(found.id)
        .bind(unproven_password)
        .execute(&mut *tx)
        .await?;
        mail::void_sign_in_links(tx, found.id).await?;
        if unproven_password {
            audit::record(
                tx,
                "user_unconfirmed_password_removed",
                Some(found.id),
                Some(found.id),
                client,
                serde_json::json!({ "type": kind }),
            )
            .await?;
        }
    }
    user::mark_identity_verified(tx, found.id).await?;
    audit::record(
        tx,
        "user_verified",
        Some(found.id),
        Some(found.id),
        client,
        serde_json::json!({ "type": kind }),
    )
    .await?;
    let fresh = user::find(tx, found.id).await?.unwrap_or(found);
    Ok(Applied::Done(Box::new(fresh), flow))
}

/// Consumes the token, applies what it proves and starts a session. A PKCE flow the token began
/// is over: whoever verifies the token itself needs no auth code.
async fn verify(
    app: &AppState,
    client: &ClientInfo,
    kind: &str,
    token_hash: &str,
) -> AppResult<Verified> {
    let mut tx = app.pool.begin().await?;
    let Applied::Done(user, flow) = apply(app, &mut tx, client, kind, token_hash).await? else {
        tx.commit().await?;
        return Ok(Verified::FirstLeg);
    };
    if let Some(flow) = flow {
        sqlx::query("delete from auth.flow_state where id = $1")
            .bind(flow)
            .execute(&mut *tx)
            .await?;
    }
    // As GoTrue: a session from a verified code or link records `otp`, whatever the mail was (a
    // PKCE flow's exchange records the mail's own method instead).
    let answer = session::start(app, &mut tx, &user, "otp", client).await?;
    tx.commit().await?;
    Ok(Verified::Session(answer))
}

/// Consumes a PKCE link's token, applies what it proves and hands out the auth code of its flow
/// (no session: that goes to whoever exchanges the code with the flow's verifier); `None` for
/// the first leg of a secure e-mail change.
async fn verify_pkce(
    app: &AppState,
    client: &ClientInfo,
    kind: &str,
    token_hash: &str,
) -> AppResult<Option<String>> {
    let no_flow =
        || AppError::bad_request("flow_state_not_found", "No associated flow state found");
    let mut tx = app.pool.begin().await?;
    let Applied::Done(_, flow) = apply(app, &mut tx, client, kind, token_hash).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let code = pkce::issue_code(&mut tx, flow.ok_or_else(no_flow)?)
        .await?
        .ok_or_else(no_flow)?;
    tx.commit().await?;
    Ok(Some(code))
}

/// `POST /verify`.
pub async fn post_verify(
    State(app): State<AppState>,
    client: ClientInfo,
    AppJson(body): AppJson<VerifyBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Verify, client.rate_key())?;
    super::refuse_phone(body.phone.as_deref(), "Unsupported phone provider")?;
    let kind = body.kind.as_deref().unwrap_or_default();
    let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let hash = match (&body.token_hash, &body.token) {
        (Some(_), _) if given(&body.token_hash) && given(&body.email) => {
            return Err(AppError::validation(
                "Only the token_hash and type should be provided",
            ));
        }
        (Some(hash), _) if !hash.is_empty() => hash.clone(),
        (_, Some(token)) if !token.is_empty() => {
            let email = parse_email(body.email.as_deref())?;
            crypto::otp_token_hash(&email, token.trim())
        }
        _ => {
            return Err(AppError::validation(
                "Verify requires a token or a token hash",
            ));
        }
    };
    Ok(Json(match verify(&app, &client, kind, &hash).await? {
        Verified::Session(session) => session,
        Verified::FirstLeg => serde_json::json!({ "msg": FIRST_LEG, "code": "200" }),
    }))
}

/// `GET /verify?token=&type=&redirect_to=` query.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// `GET /verify`: redirects (303) to `redirect_to` with the session in the fragment — or, for a
/// PKCE link (`token=pkce_…`), with the auth code as `?code=` — or the error (in the fragment, and
/// for PKCE also in the query).
pub async fn get_verify(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
    let kind = q.kind.clone().unwrap_or_default();
    let token = q.token.as_deref().unwrap_or_default();
    let is_pkce = token.starts_with(pkce::PREFIX);
    let location = match app.auth.limits.check(Group::Verify, client.rate_key()) {
        Err(e) => error_location(&redirect, &e, is_pkce),
        Ok(()) if is_pkce => match verify_pkce(&app, &client, &kind, token).await {
            Ok(Some(code)) => with_query(&redirect, &[("code", code.as_str())]),
            Ok(None) => message_location(&redirect, true),
            Err(e) => error_location(&redirect, &e, true),
        },
        Ok(()) => match verify(&app, &client, &kind, token).await {
            Ok(Verified::FirstLeg) => message_location(&redirect, false),
            Ok(Verified::Session(s)) => {
                let fragment = serde_urlencoded::to_string([
                    (
                        "access_token",
                        s["access_token"].as_str().unwrap_or_default().to_owned(),
                    ),
                    ("expires_at", s["expires_at"].to_string()),
                    ("expires_in", s["expires_in"].to_string()),
                    (
                        "refresh_token",
                        s["refresh_token"].as_str().unwrap_or_default().to_owned(),
                    ),
                    ("token_type", "bearer".to_owned()),
                    ("type", kind),
                    ("sb", String::new()),
                ]);
                format!("{redirect}#{}", fragment.unwrap_or_default())
            }
            Err(e) => error_location(&redirect, &e, false),
        },
    };
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => AppError::Internal(anyhow::anyhow!("unrepresentable redirect")).into_response(),
    }
}
