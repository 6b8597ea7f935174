//! Periodic jobs on apalis-cron: they tick, never overlap themselves, and shutdown waits for
//! the run in progress.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;
use toko::messaging::{
    metrics::registry,
    schedule::{run_periodic, Cadence, PeriodicMetrics},
};
use toko_testkit::eventually;

#[tokio::test]
async fn a_periodic_job_runs_every_tick_until_shutdown() {
    let runs = Arc::new(AtomicU32::new(0));
    let shutdown = CancellationToken::new();
    let counter = runs.clone();
    let task = tokio::spawn(run_periodic(
        "sweep",
        Cadence::Every(Duration::from_secs(1)),
        move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        },
        None,
        shutdown.clone(),
    ));
    eventually("two runs", Duration::from_secs(6), || async {
        (runs.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .unwrap();
}

#[tokio::test]
async fn a_slow_run_is_not_overlapped_and_shutdown_waits_for_it() {
    let registry = registry();
    let metrics = PeriodicMetrics::register(&registry).unwrap();
    let (started, finished) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let shutdown = CancellationToken::new();
    let (s, f) = (started.clone(), finished.clone());
    let task = tokio::spawn(run_periodic(
        "slow-sweep",
        Cadence::cron("* * * * * *").unwrap(), // every second
        move || {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2_500)).await;
                f.store(true, Ordering::SeqCst);
                Ok(())
            }
        },
        Some(metrics),
        shutdown.clone(),
    ));
    eventually("a skipped tick", Duration::from_secs(8), || async {
        toko::metrics::render(&registry)
            .contains(r#"toko_periodic_runs_total{job="slow-sweep",outcome="skipped"}"#)
            .then_some(())
    })
    .await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the first run is still going; ticks meanwhile are skipped"
    );

    let stopping = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "shutdown waited for the run in progress"
    );
    assert!(stopping.elapsed() < Duration::from_secs(3));
}
