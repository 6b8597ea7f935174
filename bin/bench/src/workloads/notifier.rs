//! W7: the notifier, emails per second delivered to a local SMTP server.
//!
//! `user.registered` events need no order in the database, so the email is the whole work
//! (render, idempotency record, SMTP). The events are queued first (notifier stopped, relay
//! running), then the notifier is started and the rate is taken between the first and the
//! last delivery, so neither its start nor the relay is in the number.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::relay;
use crate::{processes::Launcher, smtp_sink::Deliveries, stats::Summary};

const EVENT_TYPE: &str = "user.registered";

pub async fn measure(
    db: &PgPool,
    launcher: &Launcher,
    notifier_env: &[(&'static str, String)],
    deliveries: &Deliveries,
    run_tag: &str,
    emails: u32,
) -> anyhow::Result<Summary> {
    let ready = format!(
        "http://127.0.0.1:{}/health/ready",
        notifier_port(notifier_env)
    );
    // First start declares the notifier's queue and bindings; stop it so the events queue up.
    launcher
        .start("notifier", notifier_env, &ready)
        .await?
        .stop()
        .await;
    let payload = format!(
        "jsonb_build_object('user_id', gen_random_uuid(), 'email', 'mail-{run_tag}-' || n || '@example.com', 'name', 'Bench ' || n)"
    );
    relay::insert_events(db, EVENT_TYPE, &payload, emails).await?;
    relay::wait_drained(db, EVENT_TYPE, Duration::from_secs(120)).await?;
    let notifier = launcher.start("notifier", notifier_env, &ready).await?;
    let started = Instant::now();
    let timeout = Duration::from_secs(180);
    while deliveries.count() < emails as usize && started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    notifier.stop().await;
    let delivered = deliveries.count();
    let (first, last) = deliveries.span().unwrap_or((started, started));
    let span = last.duration_since(first).as_secs_f64().max(1e-3);
    Ok(Summary {
        requests: delivered as u64,
        throughput: delivered.saturating_sub(1) as f64 / span,
        errors: u64::from(emails).saturating_sub(delivered as u64),
        ..Summary::default()
    })
}

fn notifier_port(env: &[(&'static str, String)]) -> String {
    env.iter()
        .find(|(k, _)| *k == "METRICS_PORT")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "9100".into())
}
