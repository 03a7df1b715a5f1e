//! Migrations: roles are cluster-wide, so many databases of one fresh cluster must migrate at once.

use bizbase::db::{self, EmbeddedPostgres};
use sqlx::{Connection, postgres::PgPoolOptions};

#[tokio::test]
async fn many_databases_of_a_fresh_cluster_migrate_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let pg = EmbeddedPostgres::new(dir.path(), None).unwrap();
    pg.start().await.unwrap();
    let mut admin = sqlx::PgConnection::connect_with(&pg.connect_options())
        .await
        .unwrap();
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
