//! Running `pg_dump` and `pg_restore`: which binaries (the server's major version, or newer), and
//! how they reach the database bizbase uses (libpq environment variables, so the password never
//! appears on a command line).

use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgSslMode},
};

use crate::{
    config::Config,
    db::{Database, MIGRATOR},
};

/// A database to back up or drill against: the pool for SQL and the libpq settings for the tools.
/// Cheap to clone, so a task inside `serve` can own one.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The pool.
    pub pool: sqlx::PgPool,
    /// Where `pg_dump`/`pg_restore` connect.
    pub target: Target,
}

impl Connection {
    /// The database `database` is connected to.
    pub fn of(config: &Config, database: &Database) -> anyhow::Result<Self> {
        Ok(Self {
            pool: database.pool.clone(),
            target: Target::of(config, database)?,
        })
    }
}

/// Where `pg_dump`/`pg_restore` connect: libpq settings of one database.
#[derive(Clone)]
pub struct Target {
    /// The connection settings sqlx uses.
    pub options: PgConnectOptions,
    password: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({:?})", self.options.get_database())
    }
}

impl Target {
    /// The database `database` is connected to (`DATABASE_URL` or the embedded cluster).
    pub fn of(config: &Config, database: &Database) -> anyhow::Result<Self> {
        if let Some(pg) = &database.embedded {
            return Ok(Self {
                options: pg.connect_options(),
                password: None,
            });
        }
        let url = config
            .database_url
            .as_ref()
            .context("no DATABASE_URL and no embedded database")?;
        let options = PgConnectOptions::from_str(url.expose_secret())
            .context("DATABASE_URL: not a valid PostgreSQL connection string")?;
        let password = url::Url::parse(url.expose_secret())
            .ok()
            .and_then(|u| u.password().map(percent_decode));
        Ok(Self { options, password })
    }

    /// The same server, another database.
    pub fn with_database(&self, name: &str) -> Self {
        Self {
            options: self.options.clone().database(name),
            password: self.password.clone(),
        }
    }

    fn apply(&self, cmd: &mut tokio::process::Command) {
        let o = &self.options;
        let host = o
            .get_socket()
            .map_or_else(|| o.get_host().to_owned(), |s| s.display().to_string());
        let sslmode = match o.get_ssl_mode() {
            PgSslMode::Disable => "disable",
            PgSslMode::Allow => "allow",
            PgSslMode::Prefer => "prefer",
            PgSslMode::Require => "require",
            PgSslMode::VerifyCa => "verify-ca",
            PgSslMode::VerifyFull => "verify-full",
        };
        cmd.env("PGHOST", host)
            .env("PGPORT", o.get_port().to_string())
            .env("PGUSER", o.get_username())
            .env("PGSSLMODE", sslmode)
            .env("PGAPPNAME", "bizbase backup")
            .env("LC_MESSAGES", "C")
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
    }

    fn database(&self) -> &str {
        self.options.get_database().unwrap_or("postgres")
    }
}

/// `%XX` escapes of a URL component decoded (the password as libpq wants it).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of `pg_dump` and `pg_restore` fit for the server: `BIZBASE_PG_BIN_DIR`, else
/// `/usr/lib/postgresql/<major>/bin` for the server's major version or the nearest newer one
/// (a dump must be taken by a `pg_dump` at least as new as the server), else `PATH`.
pub async fn tools(config: &Config, pool: &PgPool) -> anyhow::Result<PathBuf> {
    let has = |dir: &Path| {
        ["pg_dump", "pg_restore"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(dir) = &config.pg_bin_dir {
        if has(dir) {
            return Ok(dir.clone());
        }
        bail!(
            "BIZBASE_PG_BIN_DIR: {} does not contain pg_dump and pg_restore",
            dir.display()
        );
    }
    let version: i32 = sqlx::query_scalar("select current_setting('server_version_num')::int")
        .fetch_one(pool)
        .await?;
    let major = version / 10000;
    let mut versions: Vec<i32> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|v| *v >= major)
        .collect();
    versions.sort();
    if let Some(dir) = versions
        .into_iter()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
        .find(|d| has(d))
    {
        return Ok(dir);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|d| has(d))
        .with_context(|| {
            format!(
                "no pg_dump/pg_restore for PostgreSQL {major} found (looked in /usr/lib/postgresql/*/bin and PATH); \
                 install the client (Debian: `apt-get install postgresql-client-{major}`) or set BIZBASE_PG_BIN_DIR"
            )
        })
}

async fn run(cmd: tokio::process::Command, what: &str) -> anyhow::Result<()> {
    output(cmd, what).await.map(drop)
}

/// Runs `cmd` to the end; its standard output, or an error with its standard error.
async fn output(mut cmd: tokio::process::Command, what: &str) -> anyhow::Result<Vec<u8>> {
    let out = cmd
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// `pg_dump --format=custom` of `target` as of the exported `snapshot`, into `out`.
pub async fn dump(bin: &Path, target: &Target, snapshot: &str, out: &Path) -> anyhow::Result<()> {
    let mut cmd = tokio::process::Command::new(bin.join("pg_dump"));
    target.apply(&mut cmd);
    cmd.arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--no-sync")
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(target.database());
    run(cmd, "pg_dump").await
}

/// Restores `dump` into the (empty) database of `target` in one transaction: it succeeds whole or
/// leaves the database as it was. Objects are owned by the restoring role (`--no-owner`).
///
/// A dump taken where bizbase is a superuser (the embedded cluster) must also load where it is
/// not (a managed database): event triggers, which only a superuser may create, are always left
/// out, and a restoring role that is no superuser also leaves out the default privileges of other
/// roles (`ALTER DEFAULT PRIVILEGES FOR ROLE postgres …`, which only members of that role may
/// run). The caller installs bizbase's own again, as the restoring role, where it may
/// ([`load_database`](super::restore::load_database)).
pub async fn restore(
    bin: &Path,
    target: &Target,
    dump: &Path,
    superuser: bool,
) -> anyhow::Result<()> {
    let mut list = tokio::process::Command::new(bin.join("pg_restore"));
    list.arg("--list").arg(dump);
    let contents = output(list, "pg_restore --list").await?;
    let kept = restorable(&String::from_utf8_lossy(&contents), superuser);
    let list_file = dump.with_extension("list");
    tokio::fs::write(&list_file, kept)
        .await
        .with_context(|| format!("cannot write {}", list_file.display()))?;
    let mut cmd = tokio::process::Command::new(bin.join("pg_restore"));
    target.apply(&mut cmd);
    cmd.args(["--no-owner", "--exit-on-error", "--single-transaction"])
        .arg("--use-list")
        .arg(&list_file)
        .arg("--dbname")
        .arg(target.database())
        .arg(dump);
    let restored = run(cmd, "pg_restore").await;
    let _ = tokio::fs::remove_file(&list_file).await;
    restored
}

/// A `pg_restore --list` with the entries [`restore`] leaves out commented out (`;` starts a
/// comment).
fn restorable(list: &str, superuser: bool) -> String {
    list.lines()
        .map(|line| {
            let left_out = !line.starts_with(';')
                && (line.contains(" EVENT TRIGGER ")
                    || (!superuser && line.contains(" DEFAULT ACL ")));
            if left_out {
                format!(";{line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// Runs the migration named `description` again: the cluster-wide part of the schema (the API
/// roles, their per-database settings) that a dump of one database does not carry. Those
/// migrations are written to be re-run.
pub async fn rerun_migration(pool: &PgPool, description: &str) -> anyhow::Result<()> {
    let migration = MIGRATOR
        .iter()
        .find(|m| m.description == description)
        .with_context(|| format!("no migration named {description}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.as_str().to_owned()))
        .execute(pool)
        .await
        .with_context(|| format!("re-running the migration {description}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::restorable;

    const LIST: &str = "; Archive created at 2026-11-29\n\
        ;\n\
        4101; 1259 16500 TABLE public leads postgres\n\
        4390; 826 16400 DEFAULT ACL auth DEFAULT PRIVILEGES FOR TABLES postgres\n\
        4391; 3466 16700 EVENT TRIGGER - bizbase_schema_changed postgres\n\
        4392; 0 0 ACL - TABLE leads postgres\n";

    #[test]
    fn event_triggers_are_always_left_out_and_default_privileges_by_a_non_superuser() {
        let as_superuser = restorable(LIST, true);
        assert!(as_superuser.contains("\n4390; 826"));
        assert!(as_superuser.contains("\n;4391; 3466"));
        let as_owner = restorable(LIST, false);
        assert!(as_owner.contains("\n;4390; 826"));
        assert!(as_owner.contains("\n;4391; 3466"));
        for kept in ["\n4101; 1259", "\n4392; 0 0 ACL", "; Archive created"] {
            assert!(as_owner.contains(kept), "{kept}");
        }
    }
}
