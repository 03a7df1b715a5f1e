//! Backups: a backup of the demo business and some files, wiped and restored into a fresh
//! database and store, compares equal table by table and file by file; a tampered, truncated or
//! foreign-key archive is refused before anything changes; the restore drill passes on a good
//! archive and reports a manifest that does not match.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bizbase::{
    Config,
    config::Sources,
    ops::backup::{self, Source, archive::ArchiveWriter, manifest},
    seed::demo,
    storage::store::{self, location},
};
use object_store::{ObjectStoreExt, PutPayload};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tempfile::TempDir;

const KEY: [u8; 32] = [42; 32];

/// The test database's URL with another database name.
fn url_of(db: &str) -> String {
    let base = std::env::var("DATABASE_URL").unwrap();
    match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{db}"),
        None => panic!("DATABASE_URL without a database: {base}"),
    }
}

async fn name_of(pool: &PgPool) -> String {
    sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A configuration over `db` with its files under `dir` and the backups in `backups`.
fn config(db: &str, dir: &Path, backups: &Path, key: &[u8; 32]) -> Config {
    Config::from_sources(&sources(db, dir, backups, key)).unwrap()
}

fn sources(db: &str, dir: &Path, backups: &Path, key: &[u8; 32]) -> Sources {
    let mut src = Sources::default();
    src.set("DATABASE_URL", &url_of(db));
    src.set("DATA_DIR", &dir.to_string_lossy());
    src.set("BACKUP_DIR", &backups.to_string_lossy());
    src.set("BACKUP_KEY", &STANDARD.encode(key));
    src.set("ARGON2_MEMORY_KIB", "64");
    src.set("ARGON2_ITERATIONS", "1");
    src
}

/// An empty database on the test server, dropped by [`Scratch::drop_now`].
struct Scratch {
    name: String,
    pool: PgPool,
}

impl Scratch {
    async fn create(admin: &PgPool) -> Self {
        let name = format!("backup_target_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(admin)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url_of(&name))
            .await
            .unwrap();
        Self { name, pool }
    }

    async fn drop_now(self, admin: &PgPool) {
        self.pool.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop database {} with (force)",
            self.name
        )))
        .execute(admin)
        .await
        .unwrap();
    }
}

/// Every table of the bizbase schemas: its row count and the MD5 of its rows in a fixed order.
async fn fingerprint(pool: &PgPool) -> BTreeMap<String, String> {
    sqlx::query_as::<_, (String, String)>(
        "select n.nspname || '.' || c.relname,
                (xpath('/row/h/text()', query_to_xml(format(
                    'select count(*) || '':'' || md5(coalesce(string_agg(t::text, '','' order by t::text), '''')) as h from %I.%I t',
                    n.nspname, c.relname), false, true, '')))[1]::text
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname in ('public', 'auth', 'storage', 'private') and c.relkind in ('r', 'p')",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Puts files of 0 bytes, a few bytes and 3 MiB (several archive chunks) in a bucket.
async fn add_files(pool: &PgPool, config: &Config) -> BTreeMap<String, Vec<u8>> {
    let objects = store::open(&config.storage).unwrap();
    sqlx::query("insert into storage.buckets (id, name) values ('docs', 'docs')")
        .execute(pool)
        .await
        .unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let mut files = BTreeMap::new();
    for (name, bytes) in [
        ("empty.txt", Vec::new()),
        ("a/hello.txt", b"hello".to_vec()),
        ("a/b/big.bin", big),
    ] {
        let version = store::new_version();
        objects
            .put(&location(&version), PutPayload::from(bytes.clone()))
            .await
            .unwrap();
        sqlx::query(
            "insert into storage.objects (bucket_id, name, version) values ('docs', $1, $2)",
        )
        .bind(name)
        .bind(&version)
        .execute(pool)
        .await
        .unwrap();
        files.insert(version, bytes);
    }
    files
}

/// The bytes of every blob in the store of `config`, by version.
async fn read_files(
    config: &Config,
    versions: impl Iterator<Item = &String>,
) -> BTreeMap<String, Vec<u8>> {
    let objects = store::open(&config.storage).unwrap();
    let mut files = BTreeMap::new();
    for v in versions {
        let bytes = objects
            .get(&location(v))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        files.insert(v.clone(), bytes.to_vec());
    }
    files
}

/// A scratch directory, its backup directory, and the configuration of the test database.
async fn source_of(pool: &PgPool) -> (TempDir, PathBuf, Config) {
    let dir = TempDir::new().unwrap();
    let backups = dir.path().join("backups");
    let source = config(
        &name_of(pool).await,
        &dir.path().join("src"),
        &backups,
        &KEY,
    );
    (dir, backups, source)
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

#[sqlx::test]
async fn a_backup_restores_into_an_empty_database_and_store_with_every_row_and_file(pool: PgPool) {
    let (dir, backups, source) = source_of(&pool).await;
    demo::seed(&pool, &source.auth, false).await.unwrap();
    let files = add_files(&pool, &source).await;
    let before = fingerprint(&pool).await;
    let created = backup::create(&source).await.unwrap();
    let target = Scratch::create(&pool).await;
    let restored_config = config(&target.name, &dir.path().join("dst"), &backups, &KEY);

    let restored = backup::restore(&restored_config, &Source::Latest)
        .await
        .unwrap();
    let path = backups.join(&created.name);
    let again = backup::restore(&restored_config, &Source::File(path.clone())).await;

    assert_eq!(restored.archive, created.location);
    assert_eq!(created.location, path.display().to_string());
    assert!(created.manifest.tables["public.leads"] >= 2000);
    assert_eq!(created.manifest.tables["storage.objects"], 3);
    assert!(before.len() > 40, "{before:?}");
    assert_eq!(fingerprint(&target.pool).await, before);
    assert_eq!(
        event_triggers(&target.pool).await,
        2,
        "reinstalled for a superuser"
    );
    assert_eq!(read_files(&restored_config, files.keys()).await, files);
    let e = again.unwrap_err().to_string();
    assert!(e.contains("is not empty"), "{e}");
    let archive = std::fs::read(&path).unwrap();
    assert!(archive.starts_with(b"BIZBKP01"));
    assert!(
        !archive.windows(5).any(|w| w == b"hello"),
        "the archive is not encrypted"
    );
    target.drop_now(&pool).await;
}

/// How many of the data API's event triggers (migration 0050) the database has.
async fn event_triggers(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_event_trigger where evtname like 'bizbase_schema_%'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_backup_of_a_superusers_database_restores_into_one_whose_owner_is_none(pool: PgPool) {
    let (dir, backups, source) = source_of(&pool).await;
    assert_eq!(event_triggers(&pool).await, 2);
    let before = fingerprint(&pool).await;
    backup::create(&source).await.unwrap();
    // As a managed database hands it out: an owner that bypasses row-level security, no superuser.
    let owner = crate::owner::Owner::create(&pool, "bypassrls").await;
    let mut src = sources(&owner.database, &dir.path().join("dst"), &backups, &KEY);
    let base = std::env::var("DATABASE_URL").unwrap();
    let server = base.split_once("://").unwrap().1.split_once('@').unwrap().1;
    let server = server.rsplit_once('/').unwrap().0;
    src.set(
        "DATABASE_URL",
        &format!("postgres://{}@{server}/{}", owner.role, owner.database),
    );

    let restored = backup::restore(&Config::from_sources(&src).unwrap(), &Source::Latest).await;

    restored.unwrap();
    let target = owner.pool().await;
    assert_eq!(fingerprint(&target).await, before);
    assert_eq!(
        event_triggers(&target).await,
        0,
        "only a superuser may have them"
    );
    let hook_defaults: i64 = sqlx::query_scalar(
        "select count(*) from pg_default_acl d join pg_namespace n on n.oid = d.defaclnamespace \
         where n.nspname = 'auth' and d.defaclrole = (select oid from pg_roles where rolname = current_user)",
    )
    .fetch_one(&target)
    .await
    .unwrap();
    assert_eq!(
        hook_defaults, 1,
        "the hook role's default privileges, as the new owner"
    );
    target.close().await;
    owner.drop().await;
}

#[sqlx::test]
async fn a_damaged_truncated_or_foreign_archive_is_refused_and_nothing_changes(pool: PgPool) {
    let (dir, backups, source) = source_of(&pool).await;
    add_files(&pool, &source).await;
    let created = backup::create(&source).await.unwrap();
    let good = std::fs::read(backups.join(&created.name)).unwrap();
    let target = Scratch::create(&pool).await;
    let dst_dir = dir.path().join("dst");
    let restore_config = config(&target.name, &dst_dir, &backups, &KEY);
    let flipped = {
        let mut b = good.clone();
        b[good.len() / 2] ^= 0x01;
        b
    };
    let cases = [
        ("a flipped byte", flipped, "damaged"),
        ("cut in half", good[..good.len() / 2].to_vec(), "damaged"),
        (
            "cut before the last bytes",
            good[..good.len() - 1].to_vec(),
            "damaged",
        ),
    ];

    for (what, bytes, expected) in cases {
        let path = dir.path().join("broken.backup");
        std::fs::write(&path, bytes).unwrap();
        let e = backup::restore(&restore_config, &Source::File(path))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains(expected), "{what}: {e:#}");
    }
    let wrong_key = config(&target.name, &dst_dir, &backups, &[7; 32]);
    let e = backup::restore(&wrong_key, &Source::Latest)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("different key than BIZBASE_BACKUP_KEY"),
        "{e:#}"
    );

    let schemas: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname in ('auth', 'storage', 'private')",
    )
    .fetch_one(&target.pool)
    .await
    .unwrap();
    assert_eq!(schemas, 0);
    assert!(is_empty_dir(&restore_config.storage.dir));
    let leftovers: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "scratch files left behind: {leftovers:?}"
    );
    target.drop_now(&pool).await;
}

#[sqlx::test]
async fn a_restore_whose_database_load_fails_leaves_the_store_empty_and_the_database_unloaded(
    pool: PgPool,
) {
    let (dir, backups, source) = source_of(&pool).await;
    add_files(&pool, &source).await;
    backup::create(&source).await.unwrap();
    let target = Scratch::create(&pool).await;
    // Not a relation, so the emptiness check passes; the dump's function of this name collides.
    sqlx::query(
        "create function public.accept_invitation(token text) returns uuid \
         language sql as 'select null::uuid'",
    )
    .execute(&target.pool)
    .await
    .unwrap();
    let restore_config = config(&target.name, &dir.path().join("dst"), &backups, &KEY);

    let e = backup::restore(&restore_config, &Source::Latest)
        .await
        .unwrap_err();

    assert!(format!("{e:#}").contains("accept_invitation"), "{e:#}");
    let schemas: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname in ('auth', 'storage', 'private')",
    )
    .fetch_one(&target.pool)
    .await
    .unwrap();
    assert_eq!(schemas, 0, "pg_restore ran in one transaction");
    let mut left = Vec::new();
    let store = store::open(&restore_config.storage).unwrap();
    let mut listing = store.list(None);
    while let Some(meta) = futures_util::StreamExt::next(&mut listing).await {
        left.push(meta.unwrap().location.to_string());
    }
    assert!(left.is_empty(), "blobs left in the store: {left:?}");
    target.drop_now(&pool).await;
}

#[sqlx::test]
async fn backup_verify_passes_on_a_good_archive_and_reports_a_manifest_that_does_not_match(
    pool: PgPool,
) {
    let dir = TempDir::new().unwrap();
    let backups = dir.path().join("backups");
    let db = name_of(&pool).await;
    let source = config(&db, &dir.path().join("src"), &backups, &KEY);
    add_files(&pool, &source).await;
    backup::create(&source).await.unwrap();
    let run = |key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bizbase"));
        cmd.args(["backup", "verify", "--json"])
            .env("DATABASE_URL", url_of(&db))
            .env("BIZBASE_DATA_DIR", dir.path().join("src"))
            .env("BIZBASE_BACKUP_DIR", &backups)
            .env("BIZBASE_LOG", "warn")
            .env_remove("BIZBASE_BACKUP_KEY");
        if let Some(k) = key {
            cmd.env("BIZBASE_BACKUP_KEY", k);
        }
        cmd.output().unwrap()
    };

    let good = run(Some(&STANDARD.encode(KEY)));
    let no_key = run(None);
    // A later archive whose manifest claims one more lead than its dump holds.
    let unpacked = backup::restore::open_archive(&source, &Source::Latest)
        .await
        .unwrap();
    let mut lying = unpacked.manifest.clone();
    *lying.tables.get_mut("public.leads").unwrap() += 1;
    write_archive(
        &backups.join("bizbase-99991231T000000.000Z.backup"),
        &source,
        &unpacked.dir.0,
        &lying,
    )
    .await;
    let report = backup::verify(&source).await.unwrap();

    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(json["mismatches"], serde_json::json!([]));
    assert_eq!(json["objects"], 3);
    assert!(!no_key.status.success());
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("BIZBASE_BACKUP_KEY is not set"));
    assert!(!report.passed());
    assert_eq!(report.mismatches.len(), 1, "{:?}", report.mismatches);
    assert!(
        report.mismatches[0].starts_with("public.leads:"),
        "{:?}",
        report.mismatches
    );
    let scratch: i64 = sqlx::query_scalar(
        "select count(*) from pg_database where datname like 'bizbase_verify_%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(scratch, 0, "the drill left its scratch database behind");
}

/// Writes an archive of the unpacked entries under `dir` with `manifest`.
async fn write_archive(path: &Path, config: &Config, dir: &Path, manifest: &backup::Manifest) {
    let key = backup::BackupKey::from_config(&config.backup).unwrap();
    let mut out = ArchiveWriter::create(path, &key).await.unwrap();
    let mut names = vec![manifest::DUMP_ENTRY.to_owned()];
    names.extend(
        manifest
            .objects
            .iter()
            .map(|o| manifest::blob_entry(&o.version)),
    );
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        out.begin_entry(&name, bytes.len() as u64).await.unwrap();
        out.write(&bytes).await.unwrap();
    }
    let json = serde_json::to_vec(manifest).unwrap();
    out.begin_entry(manifest::MANIFEST_ENTRY, json.len() as u64)
        .await
        .unwrap();
    out.write(&json).await.unwrap();
    out.finish().await.unwrap();
}

#[sqlx::test]
async fn a_scheduled_round_backs_up_prunes_to_the_retention_and_runs_the_drill(pool: PgPool) {
    let dir = TempDir::new().unwrap();
    let backups = dir.path().join("backups");
    let mut src = Sources::default();
    src.set("DATABASE_URL", &url_of(&name_of(&pool).await));
    src.set("DATA_DIR", &dir.path().join("src").to_string_lossy());
    src.set("BACKUP_DIR", &backups.to_string_lossy());
    src.set("BACKUP_KEY", &STANDARD.encode(KEY));
    src.set("BACKUP_SCHEDULE", "0 3 * * *");
    src.set("BACKUP_KEEP_DAILY", "1");
    src.set("BACKUP_KEEP_WEEKLY", "1");
    let config = Config::from_sources(&src).unwrap();
    // An archive from another week, which the weekly retention of one does not keep either.
    std::fs::create_dir_all(&backups).unwrap();
    let old = backups.join("bizbase-20200106T030000.000Z.backup");
    std::fs::write(&old, b"old").unwrap();
    let database = bizbase::db::Database::open(&config).await.unwrap();
    let conn = backup::dump::Connection::of(&config, &database).unwrap();
    let metrics = bizbase::http::metrics::handle().expect("the metrics recorder");

    backup::schedule::round(&config, &conn).await.unwrap();
    backup::schedule::round(&config, &conn).await.unwrap();
    let left = backup::Destination::of(&config.backup)
        .unwrap()
        .list()
        .await
        .unwrap();
    database.close().await.unwrap();

    assert_eq!(
        left.len(),
        1,
        "one a day, one a week, and both are today's newest: {left:?}"
    );
    assert!(!old.exists(), "retention removed the old archive");
    let rendered = metrics.render();
    assert!(rendered.contains("backup_verify_passed 1"), "{rendered}");
    assert!(rendered.contains("backup_last_success_timestamp_seconds"));
}

#[test]
fn a_schedule_needs_a_valid_cron_expression_and_the_key() {
    let mut bad = Sources::default();
    bad.set("BACKUP_SCHEDULE", "every night");
    bad.set("BACKUP_KEY", &STANDARD.encode(KEY));
    let mut keyless = Sources::default();
    keyless.set("BACKUP_SCHEDULE", "0 3 * * *");

    let bad = Config::from_sources(&bad).unwrap_err().to_string();
    let keyless = Config::from_sources(&keyless).unwrap_err().to_string();

    assert!(bad.contains("BIZBASE_BACKUP_SCHEDULE"), "{bad}");
    assert!(keyless.contains("BIZBASE_BACKUP_KEY"), "{keyless}");
}

#[sqlx::test]
async fn with_an_s3_bucket_archives_go_there_and_restore_and_retention_read_them_back(
    pool: PgPool,
) {
    const BUCKET: &str = "bizbase-backups";
    let moto = crate::moto::start(&[BUCKET]).await;
    let dir = TempDir::new().unwrap();
    let staging = dir.path().join("staging");
    let with_s3 = |db: &str, data: &str| {
        let mut src = sources(db, &dir.path().join(data), &staging, &KEY);
        src.set("BACKUP_S3_BUCKET", BUCKET);
        src.set("BACKUP_S3_ENDPOINT", &moto.endpoint);
        src.set("BACKUP_S3_ACCESS_KEY_ID", "test");
        src.set("BACKUP_S3_SECRET_ACCESS_KEY", "test");
        src.set("BACKUP_KEEP_DAILY", "1");
        src.set("BACKUP_KEEP_WEEKLY", "1");
        Config::from_sources(&src).unwrap()
    };
    let source = with_s3(&name_of(&pool).await, "src");
    let files = add_files(&pool, &source).await;
    let before = fingerprint(&pool).await;
    let old = "backups/bizbase-20200106T030000.000Z.backup";
    let put = reqwest::Client::new()
        .put(format!("{}/{BUCKET}/{old}", moto.endpoint))
        .body("old")
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());

    let created = backup::create(&source).await.unwrap();
    let keys = moto.keys(BUCKET).await;
    let staged_after_backup = is_empty_dir(&staging);
    let target = Scratch::create(&pool).await;
    let restored_config = with_s3(&target.name, "dst");
    let restored = backup::restore(&restored_config, &Source::Latest)
        .await
        .unwrap();
    let by_name = backup::restore(
        &restored_config,
        &Source::File(PathBuf::from(&created.name)),
    )
    .await;
    let removed = backup::schedule::prune(&source).await.unwrap();

    let key = format!("backups/{}", created.name);
    assert_eq!(created.location, format!("s3://{BUCKET}/{key}"));
    assert_eq!(keys, [old.to_owned(), key.clone()]);
    assert!(
        staged_after_backup,
        "the local copy of the uploaded archive stays behind"
    );
    assert!(moto.get(BUCKET, &key).await.starts_with(b"BIZBKP01"));
    assert_eq!(restored.archive, created.location);
    assert_eq!(fingerprint(&target.pool).await, before);
    assert_eq!(
        event_triggers(&target.pool).await,
        2,
        "reinstalled for a superuser"
    );
    assert_eq!(read_files(&restored_config, files.keys()).await, files);
    // Found by name in the bucket (and refused only because the target is no longer empty).
    let e = by_name.unwrap_err().to_string();
    assert!(e.contains("is not empty"), "{e}");
    assert_eq!(removed, [format!("s3://{BUCKET}/{old}")]);
    assert_eq!(moto.keys(BUCKET).await, [key]);
    assert!(
        is_empty_dir(&staging),
        "downloads and unpacked files are cleaned up"
    );
    target.drop_now(&pool).await;
}
