//! Migrations: roles are cluster-wide, so many databases of one fresh cluster must migrate at once.

use bizbase::db::{self, EmbeddedPostgres};
use sqlx::{Connection, PgConnection, postgres::PgPoolOptions};

/// A new cluster of its own (in a directory removed when the first value drops), and a superuser
/// connection to it.
async fn fresh_cluster() -> (tempfile::TempDir, EmbeddedPostgres, PgConnection) {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(dir.path(), None).unwrap();
    pg.start().await.unwrap();
    let admin = PgConnection::connect_with(&pg.connect_options())
        .await
        .unwrap();
    (dir, pg, admin)
}

#[tokio::test]
async fn many_databases_of_a_fresh_cluster_migrate_concurrently() {
    let (_dir, pg, mut admin) = fresh_cluster().await;
    let names: Vec<String> = (0..6).map(|i| format!("tenant_{i}")).collect();
    for name in &names {
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    }

    let mut runs = tokio::task::JoinSet::new();
    for name in &names {
        let options = pg.connect_options().database(name);
        let name = name.clone();
        runs.spawn(async move {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            let result = db::migrate(&pool).await;
            pool.close().await;
            result.map(|()| name)
        });
    }
    let results = runs.join_all().await;
    admin.close().await.unwrap();
    pg.stop().await.unwrap();

    assert_eq!(results.len(), names.len());
    for r in results {
        assert!(r.is_ok(), "{:?}", r.err());
    }
}

#[sqlx::test(migrations = false)]
async fn migrating_twice_is_a_no_op(pool: sqlx::PgPool) {
    db::migrate(&pool).await.unwrap();
    db::migrate(&pool).await.unwrap();

    let pending = db::migrations_pending(&pool).await.unwrap();
    assert_eq!(pending, None);
    let schemas: Vec<String> = sqlx::query_scalar(
        "select nspname::text from pg_namespace where nspname in ('auth','storage','private','public') order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(schemas, ["auth", "private", "public", "storage"]);
}

/// The checksum recorded for migration `version`, in hex.
async fn recorded_checksum(pool: &sqlx::PgPool, version: i64) -> String {
    sqlx::query_scalar("select encode(checksum, 'hex') from _sqlx_migrations where version = $1")
        .bind(version)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_database_that_applied_the_first_text_of_a_revised_migration_still_migrates(
    pool: sqlx::PgPool,
) {
    db::migrate(&pool).await.unwrap();
    let (version, first) = db::REVISED[0];
    let revised = recorded_checksum(&pool, version).await;
    assert_ne!(revised, first);
    let set = "update _sqlx_migrations set checksum = decode($2, 'hex') where version = $1";
    sqlx::query(set)
        .bind(version)
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();

    db::migrate(&pool).await.unwrap();

    assert_eq!(recorded_checksum(&pool, version).await, revised);
    // Any other text than the two is still an edited migration.
    let other = "00".repeat(48);
    sqlx::query(set)
        .bind(version)
        .bind(&other)
        .execute(&pool)
        .await
        .unwrap();
    let refused = format!("{:#}", db::migrate(&pool).await.unwrap_err());
    assert!(
        refused.contains("previously applied but has been modified"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_owner_that_may_not_create_an_api_role_is_told_what_to_run() {
    let (_dir, pg, mut admin) = fresh_cluster().await;
    for sql in [
        "create role owner login createrole bypassrls",
        "create database owned owner owner",
    ] {
        sqlx::query(sql).execute(&mut admin).await.unwrap();
    }
    let version: i32 = sqlx::query_scalar("select current_setting('server_version_num')::int")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pg.connect_options().username("owner").database("owned"))
        .await
        .unwrap();

    let first = db::migrate(&owner).await.map_err(|e| format!("{e:#}"));
    if version < 160000 {
        // Only a superuser creates a role that bypasses row-level security before PostgreSQL 16.
        let refused = first.unwrap_err();
        assert!(
            refused.contains(
                "as a superuser, run \"create role service_role nologin noinherit bypassrls\""
            ),
            "{refused}"
        );
        sqlx::query("create role service_role nologin noinherit bypassrls")
            .execute(&mut admin)
            .await
            .unwrap();
        db::migrate(&owner).await.unwrap();
    } else {
        first.unwrap();
    }
    let memberships: Vec<String> = sqlx::query_scalar(
        "select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.roleid \
         join pg_roles u on u.oid = m.member where u.rolname = 'authenticator' order by 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    assert_eq!(memberships, ["anon", "authenticated", "service_role"]);
    owner.close().await;
    admin.close().await.unwrap();
    pg.stop().await.unwrap();
}
