//! The results table (Markdown, so a run pastes straight into docs/BENCHMARKS.md) and the
//! check of issue 10's targets.

use std::fmt::Write;

use crate::stats::Summary;

/// One line of the table.
pub struct Row {
    pub workload: String,
    pub unit: &'static str,
    pub summary: Summary,
    /// The yardstick's name and throughput, for the ratio column.
    pub yardstick: Option<(&'static str, f64)>,
    pub note: String,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        self.yardstick.map(|(_, tps)| self.summary.throughput / tps)
    }
}

/// Footprint of the API process (W8).
#[derive(Debug, Default, Clone)]
pub struct Footprint {
    pub start_to_ready_ms: f64,
    pub rss_idle_mib: f64,
    pub rss_under_w1_mib: f64,
    pub rss_peak_mib: f64,
}

pub fn table(rows: &[Row], footprint: Option<&Footprint>) -> String {
    let mut out = String::new();
    out.push_str("| workload | throughput | ratio | p50 ms | p95 ms | p99 ms | errors | notes |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for row in rows {
        let ratio = match (row.ratio(), row.yardstick) {
            (Some(r), Some((name, _))) => format!("{:.1}% of {name}", r * 100.0),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
            row.workload,
            row.summary.throughput,
            row.unit,
            ratio,
            row.summary.p50_ms,
            row.summary.p95_ms,
            row.summary.p99_ms,
            row.summary.errors,
            row.note
        );
    }
    if let Some(f) = footprint {
        let _ = writeln!(
            out,
            "| W8 footprint | - | - | - | - | - | - | start to ready {:.0} ms; RSS idle {:.1} MiB, under W1 {:.1} MiB, peak {:.1} MiB |",
            f.start_to_ready_ms, f.rss_idle_mib, f.rss_under_w1_mib, f.rss_peak_mib
        );
    }
    out
}

/// The targets of issue 10 that this run can judge, each with met / missed.
pub fn targets(rows: &[Row], footprint: Option<&Footprint>) -> String {
    let mut out = String::new();
    let mut check = |name: &str, ok: bool, measured: String| {
        let _ = writeln!(
            out,
            "- [{}] {name}: {measured}",
            if ok { "met" } else { "MISSED" }
        );
    };
    for (prefix, min) in [
        ("L1 ", 0.5),
        ("L2 ", 0.3),
        ("L3 search", 0.1),
        ("W2", 0.5),
        ("W1", 0.3),
        ("W3", 0.1),
        ("W5a", 0.3),
    ] {
        for row in rows.iter().filter(|r| r.workload.starts_with(prefix)) {
            if let Some(ratio) = row.ratio() {
                check(
                    &format!("{} >= {:.0}% of its yardstick", row.workload, min * 100.0),
                    ratio >= min,
                    format!("{:.1}%", ratio * 100.0),
                );
            }
        }
    }
    let p99_limits = [
        ("L1 ", 50.0),
        ("L2 ", 50.0),
        ("L3 search", 100.0),
        ("W1", 50.0),
        ("W2", 50.0),
        ("W3", 50.0),
    ];
    for row in rows {
        let Some((_, limit)) = p99_limits.iter().find(|(p, _)| row.workload.starts_with(p)) else {
            continue;
        };
        check(
            &format!("{} p99 < {limit:.0} ms", row.workload),
            row.summary.p99_ms < *limit,
            format!("{:.1} ms", row.summary.p99_ms),
        );
    }
    if let Some(f) = footprint {
        check(
            "API RSS under load < 150 MB",
            f.rss_peak_mib < 150.0,
            format!("peak {:.1} MiB", f.rss_peak_mib),
        );
        check(
            "start to ready < 1 s",
            f.start_to_ready_ms < 1000.0,
            format!("{:.0} ms", f.start_to_ready_ms),
        );
    }
    out
}
