//! `tokoctl audit`: the stock and order consistency checks (`toko::consistency`) over the
//! whole database, one summary line per check; exits non-zero when any rule is broken.

use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

/// Violations printed per check (the count is always complete).
const SHOWN: usize = 20;

#[derive(clap::Args)]
pub struct Args {
    /// Print every violation, not only the first 20 of each check.
    #[arg(long)]
    all: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let pool = super::database().await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .expect("valid progress template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let checks = toko::consistency::run(&pool, &|phase, done, total| {
        bar.set_message(phase.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let checks = checks?;

    let mut failed = 0;
    for check in &checks {
        let mark = if check.passed() { "ok  " } else { "FAIL" };
        println!(
            "{mark} {:<38} {:>7} checked, {} violations  ({})",
            check.name,
            check.checked,
            check.violations.len(),
            check.rule
        );
        let shown = if args.all { usize::MAX } else { SHOWN };
        for violation in check.violations.iter().take(shown) {
            println!("       {violation}");
        }
        if check.violations.len() > shown {
            println!(
                "       ... and {} more (--all)",
                check.violations.len() - shown
            );
        }
        failed += usize::from(!check.passed());
    }
    println!(
        "{} checks, {} failed, in {:.1} s",
        checks.len(),
        failed,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        bail!("{failed} consistency checks failed");
    }
    Ok(())
}
