//! Latency samples of one workload and the summary printed for it.

use std::time::Duration;

/// What one timed step of a workload did.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// A request that succeeded.
    Ok(Duration),
    /// A request the server refused as the workload expects (W5b: sold out). Counted in
    /// throughput, not as an error.
    Refused(Duration),
    /// A failed request (non-2xx other than the expected refusals, or a transport error).
    Failed(Duration),
    /// Nothing left to do for this connection (W5b: every hot variant is sold out).
    Stop,
}

/// The samples of one connection; merged after the run.
#[derive(Debug, Default)]
pub struct Samples {
    pub latencies_us: Vec<u32>,
    pub refused: u64,
    pub errors: u64,
}

impl Samples {
    pub fn record(&mut self, step: Step) {
        let latency = match step {
            Step::Ok(d) => d,
            Step::Refused(d) => {
                self.refused += 1;
                d
            }
            Step::Failed(d) => {
                self.errors += 1;
                d
            }
            Step::Stop => return,
        };
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies_us.extend(other.latencies_us);
        self.refused += other.refused;
        self.errors += other.errors;
    }

    pub fn summarize(mut self, elapsed: Duration) -> Summary {
        self.latencies_us.sort_unstable();
        let count = self.latencies_us.len() as u64;
        Summary {
            requests: count,
            // Failed requests are not throughput (a dead server answers fast).
            throughput: (count - self.errors) as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: percentile_ms(&self.latencies_us, 50.0),
            p95_ms: percentile_ms(&self.latencies_us, 95.0),
            p99_ms: percentile_ms(&self.latencies_us, 99.0),
            errors: self.errors,
            refused: self.refused,
        }
    }
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], pct: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

/// Throughput and latency of one workload (or of a pgbench run).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub requests: u64,
    /// Operations per second (requests, transactions, events or emails).
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }

    #[test]
    fn refusals_count_in_throughput_but_not_as_errors() {
        let mut s = Samples::default();
        s.record(Step::Ok(Duration::from_millis(1)));
        s.record(Step::Refused(Duration::from_millis(2)));
        s.record(Step::Failed(Duration::from_millis(3)));
        s.record(Step::Stop);
        let summary = s.summarize(Duration::from_secs(1));
        assert_eq!(
            (summary.requests, summary.errors, summary.refused),
            (3, 1, 1)
        );
    }
}
