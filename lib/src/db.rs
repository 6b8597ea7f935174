//! The Postgres pool, the embedded migrations, and helpers shared by every module's SQL.

use std::{future::Future, str::FromStr, time::Duration};

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult},
    ConnectOptions, Connection, PgConnection,
};

pub use sqlx::PgPool;

use crate::config::{ConfigError, Reader, Secret};

/// The migrations in `migrations/`, compiled into every binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The connect options of a database URL, with statement logging kept at debug level.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

/// Opens the pool, creating the database first if it does not exist (a dev convenience the
/// original design's `docker-compose up` gave for free).
pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(config.url.expose())?;
    create_database_if_missing(&options).await?;
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

/// Applies pending migrations; safe to run from several processes at once (sqlx takes an
/// advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let exists = sqlx::query_scalar!(
        r#"select exists(select 1 from pg_database where datname = $1) as "exists!""#,
        &name,
    )
    .fetch_one(&mut admin)
    .await?;
    if !exists {
        let statement = format!("create database {}", quote_identifier(&name));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it between our check and our create.
            Err(e) if is_duplicate_database(&e) => {}
            Err(e) => return Err(e),
        }
    }
    admin.close().await
}

fn is_duplicate_database(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("42P04"))
}

/// Quotes an SQL identifier (database names cannot be bound as parameters).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The name of the unique, foreign-key or check constraint a statement violated, if that is
/// why it failed. Modules turn these into domain errors instead of racing with a pre-check.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    use sqlx::error::ErrorKind;
    match error {
        sqlx::Error::Database(db)
            if matches!(
                db.kind(),
                ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::CheckViolation
            ) =>
        {
            db.constraint()
        }
        _ => None,
    }
}

/// Checks the database answers; used by readiness probes.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("select 1 as one")
        .fetch_one(pool)
        .await
        .map(|_| ())
}

/// How many migrations the database has recorded (0 before the first run).
pub async fn applied_migrations(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let table_exists =
        sqlx::query_scalar!(r#"select to_regclass('_sqlx_migrations') is not null as "exists!""#)
            .fetch_one(pool)
            .await?;
    if !table_exists {
        return Ok(0);
    }
    sqlx::query_scalar!(r#"select count(*) as "count!" from _sqlx_migrations where success"#)
        .fetch_one(pool)
        .await
}

/// Rows deleted per statement while pruning (keeps each delete short).
const PRUNE_CHUNK: i64 = 5_000;

/// Runs `delete_chunk` (a `delete ... limit $chunk` statement, given the chunk size) until it
/// deletes less than a chunk.
pub async fn delete_in_chunks<F, Fut>(mut delete_chunk: F) -> Result<u64, sqlx::Error>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<PgQueryResult, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        let deleted = delete_chunk(PRUNE_CHUNK).await?.rows_affected();
        total += deleted;
        if deleted < PRUNE_CHUNK as u64 {
            return Ok(total);
        }
    }
}

/// Settings of the Postgres connection pool.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    pub run_migrations: bool,
}

impl DatabaseConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let url = r.required("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected a postgres:// URL".into(),
            });
        }
        Ok(Self {
            url: Secret::new(url),
            max_connections: r.parse("DATABASE_MAX_CONNECTIONS", 20)?,
            run_migrations: r.bool("RUN_MIGRATIONS", false)?,
        })
    }
}
