//! The `bizbase` command line: parse, load the configuration, call into the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use bizbase::{
    Config,
    auth::keys::ApiKeys,
    db::{self, Database},
    telemetry,
};
use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// across threads, where glibc's malloc spent a fifth of the server's CPU (bench/README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// bizbase: the backend of a digital business platform, in one binary over PostgreSQL.
///
/// Configuration comes from BIZBASE_* environment variables (and DATABASE_URL), over an optional
/// TOML file given with --config; see the README for the list.
#[derive(Parser, Debug)]
#[command(name = "bizbase", version, propagate_version = true)]
struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the HTTP server (and the embedded PostgreSQL when DATABASE_URL is not set).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the API keys (anon and service_role) for the configured or generated JWT secret.
    Keys {
        /// Print {"url", "anon_key", "service_role_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the version.
    Version,
    /// Export or erase everything that refers to one person (GDPR/CCPA).
    Subject {
        #[command(subcommand)]
        what: SubjectCommand,
    },
    /// Check or prune the audit log.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Generate code from the database schema.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
    /// Load sample data (migrating first).
    Seed {
        #[command(subcommand)]
        what: SeedCommand,
    },
    /// Write an encrypted archive of the database and files to the backup directory
    /// (BIZBASE_BACKUP_DIR) or S3 bucket (BIZBASE_BACKUP_S3_BUCKET), key in BIZBASE_BACKUP_KEY;
    /// `backup verify` runs the restore drill, `backup list` lists the archives.
    Backup {
        #[command(subcommand)]
        what: Option<BackupCommand>,
    },
    /// Rebuild the database and files from an archive, into an EMPTY database and file store
    /// (the whole archive is decrypted and checked first; a non-empty target is refused).
    Restore {
        /// The archive to restore: a file, or the name of an archive in the S3 bucket.
        #[arg(required_unless_present = "latest", conflicts_with = "latest")]
        archive: Option<PathBuf>,
        /// Restore the newest archive of the backup directory or bucket.
        #[arg(long)]
        latest: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BackupCommand {
    /// Restore the newest archive into a scratch database and directory and compare row counts
    /// and checksums with its manifest; exits 1 on any difference.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the archives the retention no longer keeps (BIZBASE_BACKUP_KEEP_DAILY,
    /// BIZBASE_BACKUP_KEEP_WEEKLY); `serve` does this after each scheduled backup.
    Prune,
    /// List the archives kept, oldest first.
    List,
}

#[derive(Subcommand, Debug)]
enum SubjectCommand {
    /// Print one JSON document with every row and file that refers to the person.
    Export {
        /// The person's e-mail address.
        #[arg(long)]
        email: String,
        /// Only this org's records (default: every org, and the account).
        #[arg(long)]
        org: Option<uuid::Uuid>,
    },
    /// Anonymize the person's personal data and delete their files, keeping financial records.
    Erase {
        /// The person's e-mail address.
        #[arg(long)]
        email: String,
        /// Only this org's records (default: every org, and the account).
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Confirm: erasure cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute every hash of the audit chains; exits 1 when an entry was tampered with.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove audit entries and auth events older than N days (each org's chain stays verifiable).
    Prune {
        /// Age in days.
        #[arg(long, value_name = "DAYS")]
        older_than_days: u32,
    },
}

#[derive(Subcommand, Debug)]
enum GenCommand {
    /// Print the TypeScript `Database` type of the exposed schemas (for `createClient<Database>`).
    Types {
        /// The language (only `typescript`).
        #[arg(value_parser = ["typescript"])]
        language: String,
    },
}

#[derive(Subcommand, Debug)]
enum SeedCommand {
    /// Create the demo business "Acme Digital" with one user per role and print their passwords
    /// (once). Does nothing if it exists; refuses a database holding other data unless --force.
    Demo {
        /// Seed even though the database already holds other orgs or users.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!("bizbase {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bizbase: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    if let Ok(sources) = bizbase::config::Sources::from_process(None) {
        for name in sources.unknown_env {
            tracing::warn!(variable = %name, "unknown BIZBASE_ variable ignored");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bizbase: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bizbase: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => bizbase::serve(config).await,
        Command::Migrate => {
            let database = Database::open(&config).await?;
            let result = db::migrate(&database.pool).await;
            database.close().await?;
            result?;
            println!("migrations are current");
            Ok(())
        }
        Command::Keys { json } => {
            let keys = ApiKeys::for_config(&config)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&keys).context("encoding keys")?
                );
            } else {
                println!("url:              {}", keys.url);
                println!("anon key:         {}", keys.anon_key);
                println!("service_role key: {}", keys.service_role_key);
            }
            Ok(())
        }
        Command::Version => Ok(()),
        Command::Subject { what } => {
            let database = Database::open(&config).await?;
            let result = subject(&config, &database.pool, what).await;
            database.close().await?;
            result
        }
        Command::Audit { what } => {
            let database = Database::open(&config).await?;
            let result = audit(&database.pool, what).await;
            database.close().await?;
            result
        }
        Command::Gen {
            what: GenCommand::Types { .. },
        } => {
            let database = Database::open(&config).await?;
            let cache =
                bizbase::rest::schema::SchemaCache::load(&database.pool, &config.rest.schemas)
                    .await;
            database.close().await?;
            print!("{}", bizbase::rest::typescript::generate(&cache?));
            Ok(())
        }
        Command::Backup { what } => backup(&config, what).await,
        Command::Restore { archive, latest } => {
            use bizbase::ops::backup::{Source, restore};
            let source = match archive {
                Some(path) if !latest => Source::File(path),
                _ => Source::Latest,
            };
            let restored = restore(&config, &source).await?;
            let m = &restored.manifest;
            println!(
                "restored {} (taken {}): {} tables, {} rows, {} files",
                restored.archive,
                m.created_at.to_rfc3339(),
                m.tables.len(),
                m.tables.values().sum::<i64>(),
                m.objects.len()
            );
            Ok(())
        }
        Command::Seed {
            what: SeedCommand::Demo { force },
        } => {
            let database = Database::open(&config).await?;
            let started = std::time::Instant::now();
            let result = match db::migrate(&database.pool).await {
                Ok(()) => bizbase::seed::demo::seed(&database.pool, &config.auth, force).await,
                Err(e) => Err(e),
            };
            database.close().await?;
            print!(
                "{}",
                bizbase::seed::demo::report(&result?, started.elapsed())?
            );
            Ok(())
        }
    }
}

async fn backup(config: &Config, what: Option<BackupCommand>) -> anyhow::Result<()> {
    use bizbase::ops::backup;
    if let Some(BackupCommand::List) = what {
        let destination = backup::Destination::of(&config.backup)?;
        for name in destination.list().await? {
            println!("{}", destination.describe(&name));
        }
        return Ok(());
    }
    if let Some(BackupCommand::Prune) = what {
        for gone in backup::schedule::prune(config).await? {
            println!("removed {gone}");
        }
        return Ok(());
    }
    let Some(BackupCommand::Verify { json }) = what else {
        let created = backup::create(config).await?;
        let m = &created.manifest;
        println!(
            "wrote {} ({} bytes): {} tables, {} rows, {} files",
            created.location,
            created.size,
            m.tables.len(),
            m.tables.values().sum::<i64>(),
            m.objects.len()
        );
        return Ok(());
    };
    let report = backup::verify(config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for m in &report.mismatches {
            println!("mismatch: {m}");
        }
        println!(
            "{} (taken {}): {} tables, {} rows, {} files restored into a scratch database: {}",
            report.archive,
            report.created_at.to_rfc3339(),
            report.tables,
            report.rows,
            report.objects,
            if report.passed() { "OK" } else { "MISMATCH" }
        );
    }
    if report.passed() {
        Ok(())
    } else {
        anyhow::bail!("the restore drill found differences")
    }
}

async fn audit(pool: &sqlx::PgPool, what: AuditCommand) -> anyhow::Result<()> {
    use bizbase::ops::audit;
    match what {
        AuditCommand::Verify { json } => {
            let report = audit::verify(pool).await.context("reading the audit log")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for b in &report.breaks {
                    println!("chain {} entry {}: {}", b.chain, b.seq, b.reason);
                }
                println!(
                    "{} entries in {} chains: {}",
                    report.entries,
                    report.chains,
                    if report.intact() {
                        "intact"
                    } else {
                        "TAMPERED"
                    }
                );
            }
            if report.intact() {
                Ok(())
            } else {
                anyhow::bail!("the audit log does not verify")
            }
        }
        AuditCommand::Prune { older_than_days } => {
            let n = audit::prune(pool, older_than_days).await?;
            println!(
                "removed {} audit entries and {} auth events older than {older_than_days} days",
                n.business, n.auth
            );
            Ok(())
        }
    }
}

async fn subject(config: &Config, pool: &sqlx::PgPool, what: SubjectCommand) -> anyhow::Result<()> {
    use bizbase::ops::subject;
    let document = match what {
        SubjectCommand::Export { email, org } => subject::export(config, pool, &email, org).await?,
        SubjectCommand::Erase { yes: false, .. } => {
            anyhow::bail!("erasure cannot be undone: add --yes to confirm")
        }
        SubjectCommand::Erase { email, org, .. } => {
            subject::erase(config, pool, &email, org).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
