//! Periodic jobs (the inventory reconciler's and payment poller's sweeps), run on
//! apalis-cron: [`run_periodic`].
//!
//! # Why apalis-cron, and how it is wrapped
//!
//! Checked against the apalis 1.0 sources (apalis-core 1.0.0, apalis-cron 1.0.0):
//! - `CronScheduler` is an apalis backend producing one task per tick of a schedule (a `cron`
//!   expression, or any `apalis_cron::Schedule`); an apalis `Worker` runs them and
//!   `Worker::run_until(signal)` stops taking ticks on the signal and waits for the running
//!   job (its `WorkerHandle` tracks tasks), which is the graceful shutdown we need.
//! - A backend poll error ends the worker's stream, and `run` returns it. The scheduler
//!   computes the delay to the next tick lazily, on the next poll, and reports
//!   `OutOfRange` when that tick is already in the past (the process was suspended, the
//!   clock jumped, or polling was held up). [`run_periodic`] therefore restarts the apalis
//!   worker after such an error: missed ticks are skipped, never run in a burst.
//! - The scheduler fires on schedule even while the previous job still runs (the worker
//!   polls the backend concurrently). A sweep must not overlap itself, so a tick that finds
//!   the previous run unfinished is skipped (logged). Replicas do overlap each other: sweeps
//!   claim their rows with `FOR UPDATE SKIP LOCKED` or are otherwise safe to run twice.
//! - The apalis task returns `()`: a failure is logged and counted by the wrapper (a task
//!   returning `Result<_, BoxDynError>` also trips a higher-ranked `Send` inference error in
//!   rustc when the worker is spawned).
//! - Ticks have one-second resolution (`Tick` holds Unix seconds), so [`Cadence::Every`]
//!   rounds up to whole seconds. apalis' own retry layer is not used: a failed sweep is
//!   logged and counted, and the next tick is the retry.

use std::{future::Future, str::FromStr, sync::Arc, time::Duration};

use apalis::prelude::{BoxDynError, WorkerBuilder};
use apalis_cron::{CronScheduler, Schedule, Tick};
use chrono::Utc;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// When a job runs.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// A cron expression with seconds: `0 */5 * * * *` (every five minutes).
    Cron(Box<cron::Schedule>),
    /// A fixed interval from the previous tick (at least one second).
    Every(Duration),
}

impl Cadence {
    /// Parses a cron expression (`sec min hour day month weekday [year]`).
    pub fn cron(expression: &str) -> Result<Self, cron::error::Error> {
        Ok(Self::Cron(Box::new(cron::Schedule::from_str(expression)?)))
    }
}

/// Yields the next tick for apalis-cron.
#[derive(Debug, Clone)]
struct Ticks {
    cadence: Cadence,
    last: Option<u64>,
}

impl Schedule<Utc> for Ticks {
    fn next_tick(&mut self, timezone: &Utc) -> Option<Tick<Utc>> {
        match &mut self.cadence {
            Cadence::Cron(schedule) => Schedule::<Utc>::next_tick(schedule.as_mut(), timezone),
            Cadence::Every(every) => {
                let step = every.as_secs_f64().ceil().max(1.0) as u64;
                let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
                let next = self
                    .last
                    .map_or(now + step, |last| (last + step).max(now + 1));
                self.last = Some(next);
                Some(Tick::new(next))
            }
        }
    }
}

/// Counts of periodic job runs, `toko_periodic_runs_total{job, outcome}` with outcome
/// `ok`, `failed` or `skipped` (the previous run was still going).
#[derive(Clone)]
pub struct PeriodicMetrics(IntCounterVec);

impl PeriodicMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let runs = IntCounterVec::new(
            Opts::new("periodic_runs_total", "Periodic job runs"),
            &["job", "outcome"],
        )?;
        registry.register(Box::new(runs.clone()))?;
        Ok(Self(runs))
    }
}

/// Runs `job` on `cadence` until `shutdown` is cancelled; a job running at that moment is
/// awaited. Failures are logged and counted; the next tick is the retry.
pub async fn run_periodic<F, Fut>(
    name: &str,
    cadence: Cadence,
    job: F,
    metrics: Option<PeriodicMetrics>,
    shutdown: CancellationToken,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let job = Arc::new(job);
    let running = Arc::new(Mutex::new(()));
    while !shutdown.is_cancelled() {
        let (job, running, metrics, job_name) = (
            job.clone(),
            running.clone(),
            metrics.clone(),
            name.to_owned(),
        );
        let run_one = move |tick: Tick| {
            let (job, running, metrics, job_name) = (
                job.clone(),
                running.clone(),
                metrics.clone(),
                job_name.clone(),
            );
            async move {
                let count = |outcome: &str| {
                    if let Some(m) = &metrics {
                        m.0.with_label_values(&[job_name.as_str(), outcome]).inc();
                    }
                };
                let Ok(_guard) = running.try_lock() else {
                    tracing::warn!(job = %job_name, tick = tick.get_timestamp(), "previous run still going; skipping this tick");
                    count("skipped");
                    return;
                };
                let started = std::time::Instant::now();
                match job().await {
                    Ok(()) => {
                        tracing::debug!(job = %job_name, duration_ms = started.elapsed().as_millis() as u64, "periodic job done");
                        count("ok");
                    }
                    Err(e) => {
                        tracing::error!(job = %job_name, error = %e, "periodic job failed");
                        count("failed");
                    }
                }
            }
        };
        let schedule = Ticks {
            cadence: cadence.clone(),
            last: None,
        };
        let worker = WorkerBuilder::new(name)
            .backend(CronScheduler::new(schedule))
            .build(run_one);
        let stop = shutdown.clone();
        let result = worker
            .run_until(async move {
                stop.cancelled().await;
                Ok::<(), std::io::Error>(())
            })
            .await;
        if let Err(e) = result {
            if shutdown.is_cancelled() {
                break;
            }
            tracing::warn!(job = %name, error = %e, "scheduler stopped; restarting it (missed ticks are skipped)");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A run started just before the signal finishes before we return.
    let _ = running.lock().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_tick_in_whole_seconds_from_the_previous_tick() {
        let mut ticks = Ticks {
            cadence: Cadence::Every(Duration::from_millis(1500)),
            last: None,
        };
        let now = u64::try_from(Utc::now().timestamp()).unwrap();
        let first = ticks.next_tick(&Utc).unwrap().get_timestamp();
        let second = ticks.next_tick(&Utc).unwrap().get_timestamp();
        assert!((now + 2..=now + 3).contains(&first), "{first} vs {now}");
        assert_eq!(second, first + 2);
    }

    #[test]
    fn cron_expressions_are_validated() {
        assert!(Cadence::cron("0 */5 * * * *").is_ok());
        assert!(Cadence::cron("every tuesday").is_err());
    }
}
