//! A fresh, migrated Postgres database per test, cloned from a per-migration-set template.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    time::{SystemTime, UNIX_EPOCH},
};

use sqlx::{Connection, Executor, PgConnection};
use toko::db::{quote_identifier, MIGRATOR};

use crate::eventually;

/// The server tests run against; override with `TEST_DATABASE_URL` (any database on it).
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(database: &str) -> String {
    let base = server_url();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database path");
    format!("{prefix}/{database}")
}

/// A database that is dropped when the test ends (kept with `KEEP_TEST_DB=1`).
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

/// Test databases are named `toko_test_<unix seconds>_<random>` so stale ones can be swept.
const PREFIX: &str = "toko_test_";
const STALE_AFTER_SECS: u64 = 3 * 3600;

impl TestDatabase {
    pub async fn create() -> Self {
        let mut admin = PgConnection::connect(&server_url())
            .await
            .expect("connect to the test Postgres server (is it running?)");
        let template = ensure_template(&mut admin).await;
        sweep_stale(&mut admin).await;

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!(
            "{PREFIX}{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let statement = format!(
            "create database {} template {}",
            quote_identifier(&name),
            quote_identifier(&template)
        );
        // Cloning fails while another session is briefly connected to the template; retry.
        let admin = tokio::sync::Mutex::new(admin);
        eventually(
            "a test database cloned from the template",
            std::time::Duration::from_secs(5),
            || async {
                let mut admin = admin.lock().await;
                admin.execute(sqlx::AssertSqlSafe(statement.clone())).await
            },
        )
        .await;
        let _ = admin.into_inner().close().await;
        Self {
            url: url_for(&name),
            name,
        }
    }
}

/// The template for the current migrations, created (once, under an advisory lock) if missing.
async fn ensure_template(admin: &mut PgConnection) -> String {
    let mut hasher = DefaultHasher::new();
    for m in MIGRATOR.iter() {
        m.version.hash(&mut hasher);
        m.checksum.hash(&mut hasher);
    }
    let template = format!("toko_template_{:016x}", hasher.finish());

    admin
        .execute("select pg_advisory_lock(727274)")
        .await
        .expect("template lock");
    let exists: bool = sqlx::query_scalar!(
        r#"select exists(select 1 from pg_database where datname = $1) as "exists!""#,
        &template,
    )
    .fetch_one(&mut *admin)
    .await
    .expect("check template");
    if !exists {
        let building = format!("{template}_building");
        let quoted = quote_identifier(&building);
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "drop database if exists {quoted} with (force)"
            )))
            .await
            .expect("drop half-built template");
        admin
            .execute(sqlx::AssertSqlSafe(format!("create database {quoted}")))
            .await
            .expect("create template");
        let pool = sqlx::PgPool::connect(&url_for(&building))
            .await
            .expect("connect template");
        MIGRATOR.run(&pool).await.expect("migrate template");
        pool.close().await;
        // Renamed only once complete, so a crash never leaves a half-migrated template in use.
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "alter database {quoted} rename to {}",
                quote_identifier(&template)
            )))
            .await
            .expect("publish template");
    }
    admin
        .execute("select pg_advisory_unlock(727274)")
        .await
        .expect("template unlock");
    template
}

/// Drops test databases left behind by crashed or killed test runs.
async fn sweep_stale(admin: &mut PgConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let names: Vec<String> = sqlx::query_scalar!(
        r#"select datname as "datname!" from pg_database where datname like 'toko_test_%'"#,
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER_SECS) {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "drop database if exists {} with (force)",
                    quote_identifier(&name)
                )))
                .await;
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DB").is_some() {
            eprintln!("kept test database {}", self.name);
            return;
        }
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime may be shutting down: use a thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&server_url()).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "drop database if exists {} with (force)",
                        quote_identifier(&name)
                    )))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {} (swept later)", self.name);
        }
    }
}
