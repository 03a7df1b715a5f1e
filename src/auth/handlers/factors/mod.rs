//! MFA: `POST /factors` (TOTP enrolment, with recovery codes), `POST /factors/{id}/challenge`,
//! `POST /factors/{id}/verify` (a TOTP code or a recovery code → an aal2 session),
//! `DELETE /factors/{id}` (§2.9).
//!
//! Recovery codes belong to the user, not to a factor. The ten an enrolment returns are pending on
//! that factor: they pass nothing, and they replace the user's active codes only when that factor
//! is first verified. An enrolment that is never verified (unenrolled, discarded, expired) takes
//! its codes with it and leaves the active ones alone.

mod enrol;
mod unenrol;
mod verify;

pub use enrol::post_factor;
pub use unenrol::{delete_factor, remove_factor};
pub use verify::{post_challenge, post_verify};

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    auth::user::{self, FactorRow},
    error::{AppError, AppResult},
};

fn factor_not_found() -> AppError {
    AppError::NotFound {
        code: "mfa_factor_not_found",
        message: "Factor not found".into(),
    }
}

fn parse_factor_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| factor_not_found())
}

/// A factor with its sealed secret and the last accepted time step.
#[derive(sqlx::FromRow)]
struct StoredFactor {
    #[sqlx(flatten)]
    row: FactorRow,
    secret: Vec<u8>,
    last_used_step: Option<i64>,
}

/// Refuses `name` when another factor of `user_id` (than `except`) already has it.
pub async fn ensure_name_free(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let taken: bool = sqlx::query_scalar(
        "select exists(select 1 from auth.mfa_factors where user_id = $1 and friendly_name = $2 \
         and id is distinct from $3)",
    )
    .bind(user_id)
    .bind(name)
    .bind(except)
    .fetch_one(conn)
    .await?;
    if taken {
        return Err(AppError::Unprocessable {
            code: "mfa_factor_name_conflict",
            message: format!(
                "A factor with the friendly name \"{name}\" for this user already exists"
            )
            .into(),
        });
    }
    Ok(())
}

async fn own_factor(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
    lock: bool,
) -> AppResult<(FactorRow, Vec<u8>, Option<i64>)> {
    let sql = format!(
        "select {}, secret, last_used_step from auth.mfa_factors where id = $1 and user_id = $2{}",
        user::FACTOR_COLUMNS,
        if lock { " for update" } else { "" }
    );
    let stored: StoredFactor = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(factor_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(factor_not_found)?;
    Ok((stored.row, stored.secret, stored.last_used_step))
}
