//! Spending an e-mailed token once, and voiding the ones a change of trust makes stale.

use sqlx::PgConnection;
use uuid::Uuid;

use super::TokenKind;
use crate::{
    app::AppState,
    auth::{pkce, user},
    error::AppResult,
};

/// A token that [`consume`] found and spent.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Which of the asked-for kinds it was.
    pub kind: TokenKind,
    /// Whose it was.
    pub user_id: Uuid,
    /// The address it was mailed to.
    pub address: String,
    /// The PKCE flow it began, if any.
    pub flow: Option<Uuid>,
}

/// Deletes `user`'s sign-up confirmation token, once the address is confirmed (by the user or an
/// admin): a sign-up's link still unspent no longer signs anyone in, as GoTrue clears it likewise.
pub async fn void_confirmation(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "delete from auth.one_time_tokens where user_id = $1 and token_type = 'confirmation'",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes `user`'s links and codes that sign in (sign-up confirmation, recovery, magic link,
/// invitation) once one of them has been used, as GoTrue does: the others still lying in the
/// mailbox (or in a forwarded mail, a link scanner's log) no longer open the account. Unlike
/// GoTrue, a pending change of address keeps its links (and a re-authentication nonce stays).
pub async fn void_sign_in_links(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    let kinds = [
        TokenKind::Confirmation,
        TokenKind::Recovery,
        TokenKind::MagicLink,
        TokenKind::Invite,
    ]
    .map(TokenKind::db_name);
    sqlx::query("delete from auth.one_time_tokens where user_id = $1 and token_type = any($2)")
        .bind(user)
        .bind(&kinds[..])
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every code and link still pending for `user` — and so the address change they may
/// have been confirming (`new_email`): once the password or the address changes under them, what
/// was mailed before (a recovery link to the old address, say) no longer opens the account.
pub async fn void_pending(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "with t as (delete from auth.one_time_tokens where user_id = $1) \
         update auth.users set email_change = null, email_change_sent_at = null \
         where id = $1 and email_change is not null",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds and deletes a live token of one of `kinds` with this hash (a link's `pkce_` prefix
/// ignored), having locked its user's row.
pub async fn consume(
    app: &AppState,
    conn: &mut PgConnection,
    kinds: &[TokenKind],
    token_hash: &str,
) -> AppResult<Option<Consumed>> {
    let token_hash = token_hash.strip_prefix(pkce::PREFIX).unwrap_or(token_hash);
    let names: Vec<&str> = kinds.iter().map(|k| k.db_name()).collect();
    // Whose it is, unlocked; then their row (see `user::lock`), then the token.
    let owner: Option<Uuid> = sqlx::query_scalar(
        "select user_id from auth.one_time_tokens where token_hash = $1 and token_type = any($2) \
         limit 1",
    )
    .bind(token_hash)
    .bind(&names)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    user::lock(conn, owner).await?;
    let row: Option<SpentToken> = sqlx::query_as(
        "delete from auth.one_time_tokens where token_hash = $1 and token_type = any($2) \
         and user_id = $3 and created_at > now() - make_interval(secs => $4) \
         returning token_type, user_id, relates_to, flow_state_id",
    )
    .bind(token_hash)
    .bind(&names)
    .bind(owner)
    .bind(app.config.auth.otp_exp.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|t| {
        kinds
            .iter()
            .find(|k| k.db_name() == t.token_type)
            .map(|&kind| Consumed {
                kind,
                user_id: t.user_id,
                address: t.relates_to,
                flow: t.flow_state_id,
            })
    }))
}

/// The row [`consume`] deleted.
#[derive(sqlx::FromRow)]
struct SpentToken {
    token_type: String,
    user_id: Uuid,
    relates_to: String,
    flow_state_id: Option<Uuid>,
}
