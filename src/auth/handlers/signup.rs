//! `POST /signup`.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RedirectQuery, check_password, parse_email};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::ClientInfo,
        mail::{self, TokenKind},
        password::Verdict,
        pkce::{Challenge, ChallengeFields},
        rate_limit::Group,
        session,
        user::{self, UserRow},
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// Sign-up request body.
#[derive(Debug, Deserialize)]
pub struct SignupBody {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(flatten)]
    pkce: ChallengeFields,
}

/// `signInAnonymously()` (`POST /signup` without an address): a user with no address and no
/// identity, signed in at once (`is_anonymous` in the token, AMR `anonymous`). Adding and confirming
/// an address later (`updateUser({email})`) makes them a permanent user.
async fn anonymous(app: &AppState, client: &ClientInfo, data: Option<Value>) -> AppResult<Value> {
    let data = match data {
        Some(Value::Object(m)) => Value::Object(m),
        _ => json!({}),
    };
    let mut tx = app.pool.begin().await?;
    let created = user::insert_anonymous(&mut tx, &data).await?;
    audit::record(
        &mut tx,
        "user_signedup",
        Some(created.id),
        Some(created.id),
        client,
        json!({ "provider": "anonymous" }),
    )
    .await?;
    let answer = session::start(app, &mut tx, &created, "anonymous", client).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `POST /signup`: creates the user and either e-mails a confirmation (the user is returned) or,
/// with auto-confirm, signs them in (a session is returned). Enumeration-safe: signing up an
/// existing confirmed address answers like a new sign-up, with a fake user (`identities: []`).
pub async fn post_signup(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<SignupBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Signup, client.rate_key())?;
    let auth = &app.config.auth;
    if auth.disable_signup {
        return Err(AppError::Unprocessable {
            code: "signup_disabled",
            message: "Signups not allowed for this instance".into(),
        });
    }
    if body.phone.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(AppError::Unprocessable {
            code: "phone_provider_disabled",
            message: "Phone signups are disabled".into(),
        });
    }
    if body.email.as_deref().is_none_or(str::is_empty) {
        if !auth.anonymous_users {
            return Err(AppError::Unprocessable {
                code: "anonymous_provider_disabled",
                message: "Anonymous sign-ins are disabled".into(),
            });
        }
        app.auth.limits.check(Group::Anonymous, client.rate_key())?;
        return Ok(Json(anonymous(&app, &client, body.data).await?));
    }
    let email = parse_email(body.email.as_deref())?;
    let challenge = body.pkce.parse()?;
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or(AppError::validation("Signup requires a valid password"))?;
    check_password(&app, &password).await?;
    let data = match body.data {
        Some(Value::Object(m)) => Value::Object(m),
        _ => json!({}),
    };
    // Hash before looking the address up, so that a new address takes as long as a confirmed one
    // (whose answer must not tell the two apart).
    let hash = app.auth.passwords.hash(password.clone()).await?;
    let asked = Asked {
        redirect: mail::allowed_redirect(&app, q.redirect_to.as_deref()),
        email,
        password,
        data,
        challenge,
    };
    if let Some(existing) =
        user::find_by_email(&mut *app.pool.acquire().await?, &asked.email).await?
    {
        return repeated(&app, &client, existing, asked).await;
    }

    let mut tx = app.pool.begin().await?;
    let Some(created) = user::insert(
        &mut tx,
        &asked.email,
        Some(&hash),
        &asked.data,
        &json!({}),
        auth.autoconfirm,
    )
    .await?
    else {
        // Lost a race with a concurrent sign-up of the same address: this one repeats it.
        drop(tx);
        return match user::find_by_email(&mut *app.pool.acquire().await?, &asked.email).await? {
            Some(existing) => repeated(&app, &client, existing, asked).await,
            None => Ok(Json(obfuscated_user(&asked.email, asked.data))),
        };
    };
    audit::record(
        &mut tx,
        "user_signedup",
        Some(created.id),
        Some(created.id),
        &client,
        json!({ "provider": "email" }),
    )
    .await?;
    let answer = if auth.autoconfirm {
        session::start(&app, &mut tx, &created, "password", &client).await?
    } else {
        mail::send(
            &app,
            &mut tx,
            &created,
            TokenKind::Confirmation,
            &asked.email,
            &asked.redirect,
            asked.challenge.as_ref(),
        )
        .await?;
        let refreshed = user::find(&mut tx, created.id).await?.unwrap_or(created);
        user::full_json(&mut tx, &refreshed).await?
    };
    tx.commit().await?;
    Ok(Json(answer))
}

/// What a sign-up asks for, once checked.
struct Asked {
    email: String,
    password: String,
    data: Value,
    redirect: String,
    challenge: Option<Challenge>,
}

/// A sign-up of an address that is registered already. With auto-confirm it is refused; for a
/// confirmed address the answer is a fake user (enumeration-safe); for an unconfirmed one the
/// confirmation is sent again (the data is not applied) — and if this sign-up brings a password
/// other than the account's, the account keeps neither.
///
/// Two people may be claiming the address then, and nothing yet tells which of them owns it. The
/// confirmation signs the owner in without a password, and they set their own (`updateUser`, or
/// recovery). Before, the first sign-up's password stayed: someone who had signed up with another
/// person's address got in as soon as its owner signed up and confirmed (pre-account takeover).
/// The removal stands even when no mail goes out (the address was mailed within the last minute,
/// or the instance's mail budget is spent): otherwise whoever signed up first could keep their
/// password by having the confirmation re-sent every minute, so that the owner's sign-up never
/// got through.
async fn repeated(
    app: &AppState,
    client: &ClientInfo,
    existing: UserRow,
    asked: Asked,
) -> AppResult<Json<Value>> {
    if app.config.auth.autoconfirm {
        return Err(AppError::Unprocessable {
            code: "user_already_exists",
            message: "User already registered".into(),
        });
    }
    if existing.email_confirmed_at.is_some() {
        return Ok(Json(obfuscated_user(&asked.email, asked.data)));
    }
    let disputed = match existing.encrypted_password.clone() {
        Some(stored) => {
            let verdict = app
                .auth
                .passwords
                .verify(asked.password, Some(stored))
                .await?;
            verdict == Verdict::Mismatch
        }
        None => false,
    };
    let mut tx = app.pool.begin().await?;
    let removed = disputed
        && sqlx::query(
            "update auth.users set encrypted_password = null \
             where id = $1 and email_confirmed_at is null and encrypted_password = $2",
        )
        .bind(existing.id)
        .bind(&existing.encrypted_password)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
    audit::record(
        &mut tx,
        "user_repeated_signup",
        Some(existing.id),
        Some(existing.id),
        client,
        json!({ "provider": "email", "password_removed": removed }),
    )
    .await?;
    let sent = async {
        mail::check_frequency(app, &existing, TokenKind::Confirmation)?;
        mail::send(
            app,
            &mut tx,
            &existing,
            TokenKind::Confirmation,
            &asked.email,
            &asked.redirect,
            asked.challenge.as_ref(),
        )
        .await
    }
    .await;
    if let Err(e) = sent {
        if matches!(e, AppError::RateLimitedWith { .. }) {
            tx.commit().await?;
        }
        return Err(e);
    }
    let refreshed = user::find(&mut tx, existing.id).await?.unwrap_or(existing);
    let json = user::full_json(&mut tx, &refreshed).await?;
    tx.commit().await?;
    Ok(Json(json))
}

/// What GoTrue answers for an already-registered address while confirmations are on.
fn obfuscated_user(email: &str, data: Value) -> Value {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    json!({
        "id": uuid::Uuid::new_v4(),
        "aud": "authenticated",
        "role": "",
        "email": email,
        "phone": "",
        "confirmation_sent_at": now,
        "app_metadata": { "provider": "email", "providers": ["email"] },
        "user_metadata": data,
        "identities": [],
        "created_at": now,
        "updated_at": now,
        "is_anonymous": false,
    })
}
