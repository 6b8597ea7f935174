//! `tokoctl migrate`

use anyhow::Context;
use toko::db;

pub async fn run() -> anyhow::Result<()> {
    let pool = super::database().await?;
    let applied_before = db::applied_migrations(&pool).await?;
    db::migrate(&pool).await.context("applying migrations")?;
    let applied_after = db::applied_migrations(&pool).await?;
    println!(
        "migrations up to date: {applied_after} applied ({} new)",
        applied_after - applied_before
    );
    Ok(())
}
