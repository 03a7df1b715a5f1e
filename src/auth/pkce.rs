//! PKCE (RFC 7636) for the e-mailed flows, as GoTrue does it for `flowType: 'pkce'` clients (the
//! default of `@supabase/ssr`, so of most Next.js front ends).
//!
//! A sign-up, magic link, recovery or e-mail change whose request carries a `code_challenge` begins
//! a flow (`auth.flow_state`) and the mailed token points at it; its link carries the token with a
//! `pkce_` prefix. Following that link proves the address but signs nobody in: it hands out a
//! one-time auth code (`?code=` on the redirect), stored only as its hash. The session goes to
//! whoever exchanges the code together with the verifier the flow began with —
//! `POST /token?grant_type=pkce {auth_code, code_verifier}` — so no token ever travels in a URL
//! (browser history, referrers, proxy logs see a spent or useless code) and the session lands in
//! the client, or the server with its cookies, that began the flow. As in GoTrue, the mailed token
//! itself still verifies by `POST /verify {token_hash}` (what a server-side confirm route does), so
//! the mail stays as secret as it is in the implicit flow.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{audit, context::ClientInfo, crypto, mail::TokenKind, session, user};
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// Marks a mailed token as belonging to a PKCE flow (`token=pkce_<hash>` in the link).
pub const PREFIX: &str = "pkce_";

/// How the challenge derives from the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `BASE64URL(SHA256(verifier))`.
    S256,
    /// The verifier itself.
    Plain,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "s256",
            Self::Plain => "plain",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "s256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }
}

/// A validated code challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    challenge: String,
    method: Method,
}

impl Challenge {
    /// Whether `verifier` is the one this challenge was made from (compared in constant time).
    pub fn accepts(&self, verifier: &str) -> bool {
        let derived = match self.method {
            Method::S256 => crypto::sha256_base64url(verifier),
            Method::Plain => verifier.to_owned(),
        };
        crypto::ct_eq(derived.as_bytes(), self.challenge.as_bytes())
    }
}

/// The PKCE fields of a request that e-mails a link (`null` from implicit-flow clients).
#[derive(Debug, Default, Deserialize)]
pub struct ChallengeFields {
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl ChallengeFields {
    /// The challenge, if the client runs the PKCE flow; refuses half or malformed ones.
    pub fn parse(&self) -> AppResult<Option<Challenge>> {
        let challenge = self.code_challenge.as_deref().unwrap_or_default();
        let method = self.code_challenge_method.as_deref().unwrap_or_default();
        match (challenge.is_empty(), method.is_empty()) {
            (true, true) => return Ok(None),
            (false, false) => {}
            _ => {
                return Err(AppError::validation(
                    "PKCE flow requires code_challenge_method and code_challenge",
                ));
            }
        }
        if !(43..=128).contains(&challenge.len()) {
            return Err(AppError::validation(
                "code challenge has to be between 43 and 128 characters",
            ));
        }
        if !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(AppError::validation(
                "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes",
            ));
        }
        let method = Method::parse(method)
            .ok_or_else(|| AppError::validation("code challenge method not supported"))?;
        Ok(Some(Challenge {
            challenge: challenge.to_owned(),
            method,
        }))
    }
}

/// The authentication method a session started by this kind of mail carries (GoTrue's names).
fn authentication_method(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Confirmation => "email/signup",
        TokenKind::Recovery => "recovery",
        TokenKind::MagicLink => "magiclink",
        TokenKind::EmailChange | TokenKind::EmailChangeCurrent => "email_change",
        TokenKind::Invite => "invite",
        TokenKind::Reauthentication => "reauthentication",
    }
}

/// Begins a flow for `user_id` and a mail of `kind`; returns its id. Flows of the user that can no
/// longer complete (their link and then their code expired) are forgotten on the way.
pub async fn begin(
    app: &AppState,
    conn: &mut PgConnection,
    user_id: Uuid,
    kind: TokenKind,
    challenge: &Challenge,
) -> sqlx::Result<Uuid> {
    let auth = &app.config.auth;
    sqlx::query(
        "delete from auth.flow_state where user_id = $1 and created_at < now() - make_interval(secs => $2)",
    )
    .bind(user_id)
    .bind((auth.otp_exp + auth.flow_state_exp).as_secs_f64())
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "insert into auth.flow_state (user_id, code_challenge, code_challenge_method, authentication_method) \
         values ($1, $2, $3, $4) returning id",
    )
    .bind(user_id)
    .bind(&challenge.challenge)
    .bind(challenge.method.as_str())
    .bind(authentication_method(kind))
    .fetch_one(conn)
    .await
}

/// Hands out the auth code of flow `id`, whose link was just followed: a fresh random code, of
/// which only the hash is kept. `None` when the flow is gone.
pub async fn issue_code(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    let code = Uuid::new_v4().to_string();
    let updated: Option<Uuid> = sqlx::query_scalar(
        "update auth.flow_state set auth_code_hash = $2, auth_code_issued_at = now() \
         where id = $1 returning id",
    )
    .bind(id)
    .bind(crypto::sha256_hex(&code))
    .fetch_optional(conn)
    .await?;
    Ok(updated.map(|_| code))
}

/// The error of an auth code that leads nowhere.
pub fn flow_state_not_found() -> AppError {
    AppError::NotFound {
        code: "flow_state_not_found",
        message: "invalid flow state, no valid flow state found".into(),
    }
}

/// `POST /token?grant_type=pkce`: exchanges an auth code and its verifier for a session. The code
/// is spent by the attempt, successful or not: only the one client holding the verifier can
/// succeed, so a wrong verifier means the code was intercepted (or the client is broken).
pub async fn exchange(
    app: &AppState,
    client: &ClientInfo,
    auth_code: &str,
    verifier: &str,
) -> AppResult<Value> {
    if auth_code.is_empty() || verifier.is_empty() {
        return Err(AppError::validation(
            "invalid request: both auth code and code verifier should be non-empty",
        ));
    }
    let code_hash = crypto::sha256_hex(auth_code);
    let mut tx = app.pool.begin().await?;
    // Whose flow it is, unlocked; then their row (see `user::lock`), then the flow.
    let owner: Option<Uuid> =
        sqlx::query_scalar("select user_id from auth.flow_state where auth_code_hash = $1")
            .bind(&code_hash)
            .fetch_optional(&mut *tx)
            .await?;
    user::lock(&mut tx, owner.ok_or_else(flow_state_not_found)?).await?;
    let flow: Option<(Uuid, Uuid, String, String, String, String, bool)> = sqlx::query_as(
        "select id, user_id, code_challenge, code_challenge_method, authentication_method, provider_type, \
                auth_code_issued_at < now() - make_interval(secs => $2) \
         from auth.flow_state where auth_code_hash = $1 and user_id = $3 for update",
    )
    .bind(&code_hash)
    .bind(app.config.auth.flow_state_exp.as_secs_f64())
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, user_id, challenge, method, amr, provider, expired) =
        flow.ok_or_else(flow_state_not_found)?;
    sqlx::query("delete from auth.flow_state where id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let refusal = if expired {
        Some(AppError::Unprocessable {
            code: "flow_state_expired",
            message: "invalid flow state, flow state has expired".into(),
        })
    } else if !Method::parse(&method)
        .is_some_and(|method| Challenge { challenge, method }.accepts(verifier))
    {
        Some(AppError::bad_request(
            "bad_code_verifier",
            "code challenge does not match previously saved code verifier",
        ))
    } else {
        None
    };
    if let Some(refusal) = refusal {
        tx.commit().await?;
        return Err(refusal);
    }
    let found = user::find_for_update(&mut tx, user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(flow_state_not_found)?;
    if found.is_banned() {
        return Err(AppError::bad_request("user_banned", "User is banned"));
    }
    audit::record(
        &mut tx,
        "login",
        Some(found.id),
        Some(found.id),
        client,
        json!({ "provider_type": provider, "flow": "pkce" }),
    )
    .await?;
    let answer = session::start(app, &mut tx, &found, &amr, client).await?;
    tx.commit().await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(challenge: Option<&str>, method: Option<&str>) -> ChallengeFields {
        ChallengeFields {
            code_challenge: challenge.map(str::to_owned),
            code_challenge_method: method.map(str::to_owned),
        }
    }

    #[test]
    fn s256_accepts_only_the_verifier_it_was_made_from() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let c = fields(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .parse()
        .unwrap()
        .unwrap();
        assert!(c.accepts(verifier));
        assert!(!c.accepts("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
        assert!(!c.accepts("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn plain_compares_the_verifier_itself() {
        let verifier = "a".repeat(43);
        let c = fields(Some(&verifier), Some("plain"))
            .parse()
            .unwrap()
            .unwrap();
        assert!(c.accepts(&verifier));
        assert!(!c.accepts(&"a".repeat(44)));
    }

    #[test]
    fn challenges_are_optional_but_never_half_or_malformed() {
        assert_eq!(fields(None, None).parse().unwrap(), None);
        assert_eq!(fields(Some(""), Some("")).parse().unwrap(), None);
        let good = "A".repeat(43);
        for (c, m) in [
            (Some(good.as_str()), None),
            (None, Some("s256")),
            (Some("short"), Some("s256")),
            (Some(&*"A".repeat(129)), Some("s256")),
            (Some(&*format!("{}+", "A".repeat(43))), Some("s256")),
            (Some(good.as_str()), Some("sha1")),
        ] {
            let e = fields(c, m).parse().unwrap_err();
            assert_eq!(e.code(), "validation_failed", "{c:?} {m:?}");
        }
    }
}
