//! The schema's migrations: embedded in the binary, applied in order, each recorded with the
//! checksum of its text so an edited migration is noticed.

use anyhow::Context;
use sqlx::{PgPool, migrate::Migrator};

use super::owner;

/// The migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Migrations whose text was revised after databases had applied it, with the checksum
/// (SHA-384) of the text those databases recorded. A revision keeps the migration's effect where
/// the first text ran and only succeeds in more places, so a database that applied the first text
/// has nothing to run again: its record takes the revised text's checksum. Any other difference
/// still stops migrating, as sqlx does.
pub const REVISED: &[(i64, &str)] = &[(
    // The API roles: tolerate roles created beforehand by a superuser, so an owner that is not
    // one can migrate (revised 2026-11-28).
    20261125000001,
    "1ddb1aa5222dad3bcff15da739d4c7ae4ea64f55be8b20d09d869c442a7472591d25d16d6d8c720d42e8b176359f78ec",
)];

/// Applies every pending migration, after checking that the role connected may own the schema.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    owner::check(pool).await?;
    accept_revisions(pool)
        .await
        .context("recording revised migrations")?;
    MIGRATOR.run(pool).await.context("running migrations")?;
    Ok(())
}

/// Gives each revised migration, where the database recorded its first text, the revised text's
/// checksum (nothing to do in a database never migrated: no record table yet).
async fn accept_revisions(pool: &PgPool) -> Result<(), sqlx::Error> {
    for (version, first) in REVISED {
        let Some(current) = MIGRATOR.iter().find(|m| m.version == *version) else {
            continue;
        };
        let updated = sqlx::query(
            "update _sqlx_migrations set checksum = $2 \
             where version = $1 and checksum = decode($3, 'hex')",
        )
        .bind(version)
        .bind(current.checksum.as_ref())
        .bind(first)
        .execute(pool)
        .await;
        match updated {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => return Ok(()),
            other => other?,
        };
    }
    Ok(())
}

/// Why the schema is not current (`None` when every embedded migration is applied).
pub async fn migrations_pending(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    let applied: Vec<(i64, bool)> =
        match sqlx::query_as("select version, success from _sqlx_migrations order by version")
            .fetch_all(pool)
            .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
                return Ok(Some("migrations have not been run".into()));
            }
            Err(e) => return Err(e),
        };
    if let Some((version, _)) = applied.iter().find(|(_, ok)| !ok) {
        return Ok(Some(format!("migration {version} failed")));
    }
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.iter().any(|(a, _)| a == v))
        .collect();
    Ok(missing
        .first()
        .map(|v| format!("{} migration(s) pending, first {v}", missing.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_revision_names_an_embedded_migration_whose_text_changed() {
        for (version, first) in REVISED {
            let m = MIGRATOR.iter().find(|m| m.version == *version);
            let m = m.unwrap_or_else(|| panic!("no migration {version}"));
            assert_eq!(first.len(), 96, "{version}: a SHA-384 in hex");
            let now: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            assert_ne!(&now, first, "{version}: the text is the first one");
        }
    }
}
