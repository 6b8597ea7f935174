//! `tokoctl payments exceptions|resolve`: the payment exceptions staff must handle (late
//! payments, bank reversals, amount mismatches, refunds needing a manual step), as
//! `GET /api/v1/admin/payment-exceptions` lists them.

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use toko::payments::exceptions::{self, PaymentException};
use uuid::Uuid;

#[derive(Clone, Copy, ValueEnum)]
pub enum State {
    Open,
    Resolved,
}

#[derive(Subcommand)]
pub enum Command {
    /// Payment exceptions, newest first, with what resolves each.
    Exceptions {
        /// Only `open` or `resolved` ones.
        #[arg(long, value_enum)]
        state: Option<State>,
    },
    /// Mark an exception resolved, saying what was done.
    Resolve {
        exception_id: Uuid,
        /// The admin who handled it (their account email).
        #[arg(long)]
        by: String,
        /// What was done, e.g. "refunded by BCA transfer, ref 123".
        #[arg(long)]
        resolution: String,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    let db = super::database().await?;
    match command {
        Command::Exceptions { state } => {
            let state = state.map(|s| match s {
                State::Open => "open",
                State::Resolved => "resolved",
            });
            let items = exceptions::list(&db, state, None)
                .await
                .context("reading payment exceptions")?;
            if items.is_empty() {
                println!("no payment exceptions");
            }
            for e in &items {
                print(e);
            }
            Ok(())
        }
        Command::Resolve {
            exception_id,
            by,
            resolution,
        } => {
            let Some(admin) = exceptions::admin_by_email(&db, &by).await? else {
                bail!("no admin account with the email {by:?}");
            };
            let resolved = exceptions::resolve(&db, exception_id, admin, &resolution).await?;
            print(&resolved);
            Ok(())
        }
    }
}

fn print(e: &PaymentException) {
    println!(
        "{}  {}  {:<24} {:<8} order {}{}",
        e.created_at.format("%Y-%m-%d %H:%M"),
        e.exception_id,
        e.kind,
        e.state,
        e.order_number,
        e.amount
            .map(|a| format!(", amount {a}"))
            .unwrap_or_default()
    );
    println!("    {}", e.detail);
    match &e.resolution {
        Some(resolution) => println!("    resolved: {resolution}"),
        None => println!("    to do: {}", e.action()),
    }
}
