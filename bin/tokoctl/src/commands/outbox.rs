//! `tokoctl outbox status`: the relay's backlog (the number its autoscaler follows).

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use toko::{config, db, outbox::OutboxStatus};

#[derive(Subcommand)]
pub enum Command {
    /// Pending events, the oldest one's age, refusals and the publish rate.
    Status,
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status => status().await,
    }
}

async fn status() -> anyhow::Result<()> {
    let database = config::DatabaseConfig::from_reader(&config::Reader(&config::ProcessEnv))?;
    let pool = db::connect(&database)
        .await
        .context("connecting to Postgres")?;
    let s = OutboxStatus::load(&pool)
        .await
        .context("reading the outbox")?;
    println!("pending            {}", s.pending);
    println!(
        "oldest pending     {}",
        s.oldest_pending_age.map_or_else(|| "-".to_owned(), human)
    );
    match &s.last_error {
        Some(error) if s.refused > 0 => {
            println!("refused by broker  {} (last: {error})", s.refused)
        }
        _ => println!("refused by broker  {}", s.refused),
    }
    println!(
        "published          {} in the last minute ({:.1}/s), {} in the last hour ({:.1}/s)",
        s.published_last_minute,
        s.published_last_minute as f64 / 60.0,
        s.published_last_hour,
        s.published_last_hour as f64 / 3600.0
    );
    Ok(())
}

/// `4s`, `3m 12s`, `2h 5m`, `3d 4h`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_secs(4)), "4s");
        assert_eq!(human(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
    }
}
