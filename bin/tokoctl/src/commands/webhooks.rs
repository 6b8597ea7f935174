//! `tokoctl webhooks list|create|update|rotate-secret|test|deliveries|redeliver`: the
//! merchants' webhook endpoints, as `/api/v1/admin/webhooks` manages them (DATABASE_URL;
//! WEBHOOK_* settings as the API reads them).

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use toko::{
    config::{ProcessEnv, Reader},
    webhooks::{Endpoint, EndpointPatch, NewEndpoint, WebhookConfig, Webhooks},
};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum Command {
    /// Registered endpoints.
    List,
    /// Register an endpoint; prints its signing secret (shown once).
    Create {
        url: String,
        /// Event types to receive (repeat, or comma-separated); none: every event.
        #[arg(long = "event", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Register it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Enable or disable an endpoint (enabling clears its failure record).
    Update {
        endpoint_id: Uuid,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        url: Option<String>,
    },
    /// A new signing secret; the old one keeps signing for `--overlap` (default 1d).
    RotateSecret {
        endpoint_id: Uuid,
        #[arg(long, default_value = "1d", value_parser = parse_duration)]
        overlap: Duration,
    },
    /// Queue a `webhook.test` delivery.
    Test { endpoint_id: Uuid },
    /// An endpoint's deliveries, newest first.
    Deliveries {
        endpoint_id: Uuid,
        /// `pending`, `succeeded` or `failed`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Send again one delivery, or an endpoint's failed deliveries created in a time range.
    Redeliver {
        /// A delivery id, or with --from/--to an endpoint id.
        id: Uuid,
        #[arg(long, requires = "to")]
        from: Option<DateTime<Utc>>,
        #[arg(long, requires = "from")]
        to: Option<DateTime<Utc>>,
    },
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    toko::config::parse_duration(raw)
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let config = WebhookConfig::from_reader(&Reader(&ProcessEnv))?;
    let webhooks = Webhooks::new(super::database().await?, config);
    match command {
        Command::List => {
            let endpoints = webhooks.list().await?;
            if endpoints.is_empty() {
                println!("no webhook endpoints");
            }
            endpoints.iter().for_each(print);
        }
        Command::Create {
            url,
            events,
            description,
            disabled,
        } => {
            let (endpoint, secret) = webhooks
                .create(NewEndpoint {
                    url,
                    description,
                    event_types: events,
                    enabled: !disabled,
                })
                .await?;
            print(&endpoint);
            println!("secret: {secret}  (shown once)");
        }
        Command::Update {
            endpoint_id,
            enabled,
            url,
        } => {
            let patch = EndpointPatch {
                url,
                enabled,
                ..EndpointPatch::default()
            };
            print(&webhooks.update(endpoint_id, patch).await?);
        }
        Command::RotateSecret {
            endpoint_id,
            overlap,
        } => {
            let (endpoint, secret) = webhooks.rotate_secret(endpoint_id, overlap).await?;
            print(&endpoint);
            println!("secret: {secret}  (shown once)");
        }
        Command::Test { endpoint_id } => {
            let delivery = webhooks.send_test(endpoint_id).await?;
            println!("queued delivery {}", delivery.id);
        }
        Command::Deliveries {
            endpoint_id,
            status,
            limit,
        } => {
            let deliveries = webhooks
                .deliveries(endpoint_id, status.as_deref(), None, limit)
                .await?;
            for d in deliveries {
                println!(
                    "{}  {}  {:<26} {:<9} attempts {}{}",
                    d.created_at.format("%Y-%m-%d %H:%M:%S"),
                    d.id,
                    d.event_type,
                    d.status,
                    d.attempts,
                    d.last_status
                        .map(|s| format!(", last answer {s}"))
                        .unwrap_or_default()
                );
            }
        }
        Command::Redeliver { id, from, to } => match from.zip(to) {
            Some((from, to)) => {
                let count = webhooks.redeliver_failed(id, from, to).await?;
                println!("{count} failed deliveries queued again");
            }
            None => {
                let delivery = webhooks.redeliver(id).await?;
                println!("delivery {} queued again", delivery.id);
            }
        },
    }
    Ok(())
}

fn print(e: &Endpoint) {
    let events = if e.event_types.is_empty() {
        "every event".to_owned()
    } else {
        e.event_types.join(",")
    };
    let state = match (&e.enabled, &e.disabled_reason) {
        (true, _) => "enabled".to_owned(),
        (false, Some(reason)) => format!("disabled: {reason}"),
        (false, None) => "disabled".to_owned(),
    };
    println!("{}  {}  [{events}]  {state}", e.id, e.url);
}
