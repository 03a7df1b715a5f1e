//! `DELETE /factors/{id}`, and the removal an admin shares.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{own_factor, parse_factor_id};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{AuthUser, ClientInfo},
        user::{self, FactorRow},
    },
    error::{AppError, AppResult},
};

/// Deletes a factor of `user_id` (with its pending recovery codes), downgrading sessions it raised,
/// and returns it. `allowed` sees the factor, read under the user's lock, before anything changes:
/// its error leaves everything as it was.
pub async fn remove_factor(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
    allowed: impl FnOnce(&FactorRow) -> AppResult<()>,
) -> AppResult<FactorRow> {
    // First, also when an admin removes the factor: in turn with the user's own MFA writes.
    user::lock(conn, user_id).await?;
    let (factor, _, _) = own_factor(conn, user_id, factor_id, true).await?;
    allowed(&factor)?;
    sqlx::query("update auth.sessions set aal = 'aal1', factor_id = null where factor_id = $1")
        .bind(factor_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from auth.mfa_amr_claims c using auth.sessions s where c.session_id = s.id and s.user_id = $1 and c.authentication_method in ('totp', 'recovery') and s.aal = 'aal1'")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from auth.mfa_factors where id = $1")
        .bind(factor_id)
        .execute(&mut *conn)
        .await?;
    // With the last verified factor the active codes go too; a pending enrolment's stay, to
    // become active if it is verified.
    sqlx::query("delete from auth.mfa_recovery_codes where user_id = $1 and pending_factor_id is null \
                 and not exists (select 1 from auth.mfa_factors where user_id = $1 and status = 'verified')")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(factor)
}

/// `DELETE /factors/{id}`: a verified factor can only be removed from an aal2 session.
pub async fn delete_factor(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let factor_id = parse_factor_id(&id)?;
    let mut tx = app.pool.begin().await?;
    let aal = me.session.aal.as_str();
    remove_factor(&mut tx, me.user.id, factor_id, |factor| {
        if factor.status == "verified" && aal != "aal2" {
            return Err(AppError::Unprocessable {
                code: "insufficient_aal",
                message: "AAL2 required to unenroll verified factor".into(),
            });
        }
        Ok(())
    })
    .await?;
    audit::record(
        &mut tx,
        "factor_unenrolled",
        Some(me.user.id),
        Some(me.user.id),
        &client,
        json!({ "factor_id": factor_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "id": factor_id })))
}
