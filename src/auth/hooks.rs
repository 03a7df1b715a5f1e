//! The custom access-token hook, as Supabase's: a PostgreSQL function `(event jsonb) returns jsonb`
//! named by `BIZBASE_AUTH_HOOK_CUSTOM_ACCESS_TOKEN` (`schema.function`, or Supabase's
//! `pg-functions://postgres/schema/function`), called before every access token is signed — at
//! sign-in, refresh, verification and MFA step-up — with
//! `{"user_id", "claims", "authentication_method"}`. It answers `{"claims": {...}}` (the claims to
//! sign, which must keep `aud, exp, iat, sub, email, phone, role, aal, session_id, is_anonymous`)
//! or `{"error": {"http_code", "message"}}` to refuse the token. It runs in the transaction that
//! mints the token, as `supabase_auth_admin` (as in Supabase): it reads what that role is granted
//! (the `auth` schema, and what the project grants it).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The claims a hook may change but never drop.
const REQUIRED: [&str; 10] = [
    "aud",
    "exp",
    "iat",
    "sub",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
];

/// A validated `schema.function` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFunction {
    schema: String,
    function: String,
}

impl HookFunction {
    /// Parses `schema.function` or `pg-functions://<database>/schema/function`; both parts must be
    /// plain identifiers (letters, digits, `_`, not starting with a digit).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (schema, function) = match text.strip_prefix("pg-functions://") {
            Some(rest) => {
                let mut parts = rest.split('/');
                let (_database, schema, function) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                (schema, function)
            }
            None => text.split_once('.')?,
        };
        let plain = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        (plain(schema) && plain(function)).then(|| Self {
            schema: schema.to_owned(),
            function: function.to_owned(),
        })
    }

    /// The function's signature, `"schema"."function"(jsonb)` (both parts are plain identifiers,
    /// so quoting them is enough), for `regprocedure`.
    fn signature(&self) -> String {
        format!("\"{}\".\"{}\"(jsonb)", self.schema, self.function)
    }
}

impl std::fmt::Display for HookFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.function)
    }
}

/// What keeps `supabase_auth_admin` from calling `hook` at all — its schema or function missing, no
/// `usage` on the schema, no `execute` on the function — each said in a sentence; empty when it
/// can. `serve` logs these at start-up, since every token would fail otherwise. What the hook reads
/// cannot be checked without running it.
pub async fn uncallable(pool: &sqlx::PgPool, hook: &HookFunction) -> sqlx::Result<Vec<String>> {
    let (schema_found, usage, function_found, execute): (bool, bool, bool, bool) = sqlx::query_as(
        "select s is not null, coalesce(has_schema_privilege('supabase_auth_admin', s, 'usage'), false), \
                f is not null, coalesce(has_function_privilege('supabase_auth_admin', f, 'execute'), false) \
         from to_regnamespace($1) s, to_regprocedure($2) f",
    )
    .bind(format!("\"{}\"", hook.schema))
    .bind(hook.signature())
    .fetch_one(pool)
    .await?;
    let grant = "grant it to supabase_auth_admin, as in Supabase (README, Identity)";
    Ok(if !schema_found {
        vec![format!(
            "the access-token hook's schema {} does not exist",
            hook.schema
        )]
    } else if !function_found {
        vec![format!(
            "the access-token hook {hook}(jsonb) does not exist"
        )]
    } else {
        [
            (!usage).then(|| {
                format!(
                    "no usage on schema {} for the access-token hook: {grant}",
                    hook.schema
                )
            }),
            (!execute).then(|| format!("no execute on the access-token hook {hook}: {grant}")),
        ]
        .into_iter()
        .flatten()
        .collect()
    })
}

/// Runs `hook` on `claims` and returns the claims to sign.
pub async fn custom_claims<'c, E>(
    hook: &HookFunction,
    executor: E,
    user_id: Uuid,
    claims: Value,
    authentication_method: &str,
) -> AppResult<Value>
where
    E: sqlx::PgExecutor<'c>,
{
    let event = json!({
        "user_id": user_id,
        "claims": claims,
        "authentication_method": authentication_method,
    });
    // As `supabase_auth_admin`, as in Supabase (migration `auth_hook_role`).
    let output: Option<Value> =
        sqlx::query_scalar("select private.call_access_token_hook($1::regprocedure, $2)")
            .bind(hook.signature())
            .bind(event)
            .fetch_one(executor)
            .await
            .map_err(|e| hook_failed(hook, e))?;
    let output = output.unwrap_or(Value::Null);
    if let Some(error) = output.get("error").filter(|e| !e.is_null()) {
        return Err(refusal(error));
    }
    let claims = output.get("claims").cloned().unwrap_or(Value::Null);
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|k| claims.get(k).is_none_or(Value::is_null))
        .collect();
    if !claims.is_object() || !missing.is_empty() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the custom access-token hook {hook} answered claims without {missing:?}"
        )));
    }
    Ok(claims)
}

/// A failed call of `hook`; one that lacked a privilege says so, for the operator reading the log.
fn hook_failed(hook: &HookFunction, e: sqlx::Error) -> AppError {
    let denied = e
        .as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .is_some_and(|code| code == "42501");
    if denied {
        AppError::Internal(anyhow::anyhow!(
            "the custom access-token hook {hook} runs as supabase_auth_admin, which lacks a privilege \
             it needs ({e}): grant it what the hook reads, as in Supabase (README, Identity)"
        ))
    } else {
        e.into()
    }
}

/// The error a hook answered with: its 4xx status and message; anything else is an internal fault.
fn refusal(error: &Value) -> AppError {
    let message = error["message"]
        .as_str()
        .unwrap_or("Refused by the access-token hook")
        .to_owned();
    match error["http_code"].as_u64().unwrap_or(500) {
        status @ 400..=499 => AppError::client(
            u16::try_from(status).unwrap_or(400),
            "hook_rejected",
            message,
        ),
        _ => AppError::Internal(anyhow::anyhow!(
            "the custom access-token hook failed: {message}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names_are_plain_identifiers_in_either_form() {
        let want = Some(HookFunction {
            schema: "public".into(),
            function: "custom_access_token_hook".into(),
        });
        assert_eq!(HookFunction::parse("public.custom_access_token_hook"), want);
        assert_eq!(
            HookFunction::parse("pg-functions://postgres/public/custom_access_token_hook"),
            want
        );
        for bad in [
            "custom_access_token_hook",
            "public.hook; drop table x",
            "public.\"hook\"",
            "1public.hook",
            "pg-functions://postgres/public",
            "pg-functions://postgres/public/hook/extra",
            "public.",
        ] {
            assert_eq!(HookFunction::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_hook_error_keeps_its_4xx_and_hides_anything_else() {
        let locked = refusal(&json!({ "http_code": 403, "message": "Account locked" }));
        assert_eq!(
            (locked.status().as_u16(), locked.code()),
            (403, "hook_rejected")
        );
        assert_eq!(locked.public_message(), "Account locked");
        let crashed = refusal(&json!({ "message": "boom" }));
        assert_eq!(crashed.status().as_u16(), 500);
    }
}
