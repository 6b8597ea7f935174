//! `tokoctl dlq list|show|replay|purge`: the workers' dead-letter queues
//! (`toko::messaging::dlq` does the work).

use anyhow::{bail, Context};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use toko::{
    config::{self, MessagingConfig},
    messaging::{
        self,
        dlq::{self, DeadLetter, Selection},
        management::{vhost_of, Management},
    },
};

#[derive(Subcommand)]
pub enum Command {
    /// Each worker queue with its ready, unacked, retrying and dead-letter counts.
    List,
    /// The dead messages of one worker, left in the queue.
    Show {
        /// `notifier`, `toko.notifier` or `toko.notifier.dlq`.
        queue: String,
        /// How many messages to show, oldest first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Republish dead messages to `toko.events` with their original routing key (attempts reset).
    Replay {
        queue: String,
        /// Message ids to replay (repeatable).
        #[arg(long = "id", required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Replay every dead message.
        #[arg(long)]
        all: bool,
        /// Show what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Drop every dead message of one worker for good.
    Purge {
        queue: String,
        /// Confirms the purge.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let settings = MessagingConfig::from_reader(&config::Reader(&config::ProcessEnv))?;
    let url = settings.url.expose();
    let connection = messaging::connect(url, &messaging::connection_name("tokoctl"))
        .await
        .context("connecting to RabbitMQ (RABBITMQ_URL)")?;
    let result = match command {
        Command::List => list(&connection, &settings).await,
        Command::Show { queue, limit } => show(&connection, &dlq::resolve(&queue), limit).await,
        Command::Replay {
            queue,
            ids,
            all,
            dry_run,
        } => {
            let selection = if all {
                Selection::All
            } else {
                Selection::Ids(ids)
            };
            replay(&connection, &dlq::resolve(&queue), &selection, dry_run).await
        }
        Command::Purge { queue, yes } => {
            let queue = dlq::resolve(&queue);
            if !yes {
                bail!("purging {queue} drops its messages for good; add --yes to confirm");
            }
            let purged = dlq::purge(&connection, &queue).await?;
            println!("purged {purged} message(s) from {queue}");
            Ok(())
        }
    };
    let _ = connection.close(200, "tokoctl done".into()).await;
    result
}

async fn list(connection: &lapin::Connection, settings: &MessagingConfig) -> anyhow::Result<()> {
    let management = Management::new(settings.management_url.expose()).ok();
    let vhost = vhost_of(settings.url.expose());
    let listing = dlq::list(connection, management.as_ref().map(|m| (m, vhost.as_str()))).await?;
    println!(
        "{:<24} {:>8} {:>8} {:>9} {:>8}",
        "worker", "ready", "unacked", "retrying", "dead"
    );
    let dash = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for row in &listing.rows {
        println!(
            "{:<24} {:>8} {:>8} {:>9} {:>8}",
            row.worker,
            row.ready,
            dash(row.unacked),
            dash(row.retrying),
            row.dead
        );
    }
    if listing.rows.is_empty() {
        println!("(no worker queues yet: workers declare them when they start)");
    }
    if let Some(why) = listing.unacked_unavailable {
        println!(
            "\nunacked and retrying: - because the management API ({}) is not available: {why}. \
             Enable the rabbitmq_management plugin or set RABBITMQ_MANAGEMENT_URL.",
            without_credentials(settings.management_url.expose())
        );
    }
    Ok(())
}

async fn show(connection: &lapin::Connection, queue: &str, limit: usize) -> anyhow::Result<()> {
    let letters = dlq::show(connection, queue, limit).await?;
    if letters.is_empty() {
        println!("{queue} is empty");
        return Ok(());
    }
    println!(
        "{queue}: {} message(s) shown, oldest first (left in the queue)\n",
        letters.len()
    );
    for letter in &letters {
        print_letter(letter);
    }
    Ok(())
}

fn print_letter(letter: &DeadLetter) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "{}  {}  attempts {}{}",
        or_dash(&letter.message_id),
        letter.event_type.as_deref().unwrap_or(&letter.routing_key),
        letter.attempts,
        letter
            .failure
            .as_ref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default()
    );
    println!("  first seen  {}", or_dash(&letter.first_seen));
    println!("  failed at   {}", or_dash(&letter.failed_at));
    println!("  last error  {}\n", or_dash(&letter.last_error));
}

async fn replay(
    connection: &lapin::Connection,
    queue: &str,
    selection: &Selection,
    dry_run: bool,
) -> anyhow::Result<()> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message(if dry_run { "checking" } else { "replaying" });
    let summary = dlq::replay(connection, queue, selection, dry_run, |seen, total| {
        bar.set_length(total);
        bar.set_position(seen);
    })
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    let verb = if dry_run { "would replay" } else { "replayed" };
    println!(
        "{verb} {} message(s) from {queue} to toko.events; {} left in the queue",
        summary.replayed.len(),
        summary.skipped
    );
    if dry_run {
        for id in &summary.replayed {
            println!("  {id}");
        }
    }
    if !summary.missing.is_empty() {
        println!("not found in {queue}: {}", summary.missing.join(", "));
    }
    Ok(())
}

/// The URL without user and password, for messages.
fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}
