//! Creating users (with their e-mail identity) and changing their identities and metadata.

use serde_json::{Map, Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{COLUMNS, UserRow};

/// Creates a user with its e-mail identity; `None` when the e-mail is taken.
pub async fn insert(
    conn: &mut PgConnection,
    email: &str,
    password_hash: Option<&str>,
    user_metadata: &Value,
    app_metadata_extra: &Value,
    confirmed: bool,
) -> sqlx::Result<Option<UserRow>> {
    insert_with_id(
        conn,
        None,
        email,
        password_hash,
        user_metadata,
        app_metadata_extra,
        confirmed,
    )
    .await
}

/// [`insert`] with the user's id given (an import from another system) or, with `None`, drawn.
/// A taken id fails with a unique violation on `users_pkey`.
pub async fn insert_with_id(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    email: &str,
    password_hash: Option<&str>,
    user_metadata: &Value,
    app_metadata_extra: &Value,
    confirmed: bool,
) -> sqlx::Result<Option<UserRow>> {
    let mut app_metadata = json!({ "provider": "email", "providers": ["email"] });
    if let (Some(base), Some(extra)) =
        (app_metadata.as_object_mut(), app_metadata_extra.as_object())
    {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let user: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into auth.users (id, email, encrypted_password, raw_user_meta_data, raw_app_meta_data, email_confirmed_at) \
         values (coalesce($6, gen_random_uuid()), $1, $2, $3, $4, case when $5 then now() end) \
         on conflict (email) where email is not null do nothing returning {COLUMNS}"
    )))
    .bind(email)
    .bind(password_hash)
    .bind(user_metadata)
    .bind(&app_metadata)
    .bind(confirmed)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(u) = &user {
        sqlx::query(
            "insert into auth.identities (provider_id, user_id, identity_data, provider) values ($1, $2, $3, 'email')",
        )
        .bind(u.id.to_string())
        .bind(u.id)
        .bind(json!({ "sub": u.id, "email": email, "email_verified": confirmed, "phone_verified": false }))
        .execute(conn)
        .await?;
    }
    Ok(user)
}

/// Creates an anonymous user (`signInAnonymously`): no address, no identity, `is_anonymous`.
pub async fn insert_anonymous(
    conn: &mut PgConnection,
    user_metadata: &Value,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into auth.users (raw_user_meta_data, raw_app_meta_data, is_anonymous) values ($1, '{{}}', true) \
         returning {COLUMNS}"
    )))
    .bind(user_metadata)
    .fetch_one(conn)
    .await
}

/// Records the user's new address on their e-mail identity (`verified`: whether the address is
/// confirmed) — creating the identity for a user who had none (an anonymous user becoming
/// permanent, who is then no longer anonymous).
pub async fn set_identity_email(
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    verified: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "with updated as (update auth.identities set identity_data = identity_data || \
                  jsonb_build_object('email', $2::text, 'email_verified', $3), updated_at = now() \
              where user_id = $1 and provider = 'email' returning id), \
         created as (insert into auth.identities (provider_id, user_id, identity_data, provider) \
              select $1::text, $1, jsonb_build_object('sub', $1, 'email', $2::text, 'email_verified', $3, \
                     'phone_verified', false), 'email' \
              where not exists (select from updated) returning id) \
         update auth.users set is_anonymous = false, \
                raw_app_meta_data = raw_app_meta_data || '{\"provider\": \"email\", \"providers\": [\"email\"]}' \
         where id = $1 and is_anonymous and exists (select from created)",
    )
    .bind(user_id)
    .bind(email)
    .bind(verified)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's two metadata objects.
#[derive(Debug, Clone, Copy)]
pub enum Metadata {
    /// `user_metadata` (`raw_user_meta_data`): the user's own.
    User,
    /// `app_metadata` (`raw_app_meta_data`): set by admins and the server.
    App,
}

/// Merges `patch` into the user's metadata as GoTrue does: its keys replace the stored ones, and
/// keys set to `null` are removed.
pub async fn merge_metadata(
    conn: &mut PgConnection,
    user_id: Uuid,
    which: Metadata,
    patch: &Map<String, Value>,
) -> sqlx::Result<()> {
    let column = match which {
        Metadata::User => "raw_user_meta_data",
        Metadata::App => "raw_app_meta_data",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update auth.users set {column} = (select coalesce(jsonb_object_agg(key, value), '{{}}'::jsonb) \
         from jsonb_each({column} || $2) where value <> 'null'::jsonb) where id = $1"
    )))
    .bind(user_id)
    .bind(Value::Object(patch.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the user's e-mail identity verified.
pub async fn mark_identity_verified(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update auth.identities set identity_data = identity_data || '{\"email_verified\": true}', updated_at = now() \
         where user_id = $1 and provider = 'email'",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}
