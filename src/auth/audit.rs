//! The auth audit trail: every sign-up, login (and failed login), refresh-token reuse, logout,
//! password change, MFA event and admin action, with actor, IP, user agent and request id.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::context::ClientInfo;

/// Appends one entry to `auth.audit_log_entries`.
pub async fn record(
    conn: &mut PgConnection,
    action: &str,
    actor: Option<Uuid>,
    target: Option<Uuid>,
    client: &ClientInfo,
    payload: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into auth.audit_log_entries (action, actor_id, target_id, ip, user_agent, request_id, payload) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(action)
    .bind(actor)
    .bind(target)
    .bind(client.ip)
    .bind(&client.user_agent)
    .bind(&client.request_id)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(())
}
