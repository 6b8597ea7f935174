//! The closed-loop load driver: `connections` tasks, each issuing one request after another
//! until the duration is over, with a progress bar.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

use crate::stats::{Samples, Step, Summary};

/// Runs `step(connection, iteration)` on `connections` tasks for `duration` (or until every
/// task returned [`Step::Stop`]) and summarizes the timed steps.
pub async fn run<F, Fut>(label: &str, connections: usize, duration: Duration, step: F) -> Summary
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Step> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let progress = progress_bar(label, duration);
    let started = Instant::now();
    let deadline = started + duration;
    let ticker = {
        let (progress, done) = (progress.clone(), done.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                progress.set_position(started.elapsed().as_millis() as u64);
                progress.set_message(format!("{} requests", done.load(Ordering::Relaxed)));
            }
        })
    };
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let (step, done) = (step.clone(), done.clone());
            tokio::spawn(async move {
                let mut samples = Samples::default();
                let mut iteration = 0;
                while Instant::now() < deadline {
                    let outcome = step(connection, iteration).await;
                    if matches!(outcome, Step::Stop) {
                        break;
                    }
                    samples.record(outcome);
                    done.fetch_add(1, Ordering::Relaxed);
                    iteration += 1;
                }
                samples
            })
        })
        .collect();
    let mut all = Samples::default();
    for task in tasks {
        all.merge(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    ticker.abort();
    progress.finish_and_clear();
    all.summarize(elapsed)
}

/// Times one request future: `Ok(true)` is a success, `Ok(false)` an expected refusal.
pub async fn timed<Fut>(request: Fut) -> Step
where
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    match request.await {
        Ok(true) => Step::Ok(started.elapsed()),
        Ok(false) => Step::Refused(started.elapsed()),
        Err(_) => Step::Failed(started.elapsed()),
    }
}

pub fn progress_bar(label: &str, duration: Duration) -> ProgressBar {
    let bar = ProgressBar::new(duration.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>6} [{bar:30}] {elapsed:>3} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}
