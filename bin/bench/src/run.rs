//! One benchmark run: the yardsticks, the API workloads with the API's footprint, then the
//! relay and the notifier; the table at the end.

use std::time::Duration;

use sqlx::{postgres::PgPoolOptions, PgPool};

use crate::{
    api::Api,
    fixtures::Fixtures,
    pgbench::{Pgbench, Script},
    processes::{self, Launcher, Service},
    report::{self, Footprint, Row},
    smtp_sink,
    stats::Summary,
    workloads::{cart, catalog, checkout, long_tail, notifier, relay, search, Load},
    Args,
};

/// The read workloads, measured against `pgbench -S`.
const READS: &[&str] = &["w1", "w2", "w3", "w8", "l1", "l2", "l3", "l4"];
const LONG_TAIL: &[&str] = &["l1", "l2", "l3", "l4"];

pub async fn all(args: Args) -> anyhow::Result<()> {
    let run_tag = format!(
        "{:x}",
        std::process::id() as u64 ^ rand::random::<u32>() as u64
    );
    let load = Load {
        connections: args.connections,
        duration: args.duration,
    };
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect(&args.database_url)
        .await?;
    let pgbench = Pgbench::new(&args.database_url, &args.pgbench_database)?;
    pgbench.ensure_initialised(args.pgbench_scale).await?;
    let launcher = Launcher {
        bin_dir: args.bin_dir.clone(),
        log_dir: processes::log_dir()?,
        env: vec![
            ("APP_ENV", "development".into()),
            ("DATABASE_URL", args.database_url.clone()),
            ("RABBITMQ_URL", args.rabbitmq_url.clone()),
            (
                "JWT_SECRET",
                format!("toko-bench-secret-{run_tag}-not-for-production"),
            ),
            ("JWT_EXPIRES_IN", "1h".into()),
            // Logs at warn: the run measures the service, not the speed of its log sink.
            ("RUST_LOG", "warn".into()),
        ],
    };
    let mut rows = Vec::new();
    let api_workloads = ["w1", "w2", "w3", "w4", "w5", "w8", "l1", "l2", "l3", "l4"]
        .iter()
        .any(|w| args.runs(w));
    let mut footprint = None;
    let mut outcome = Ok(());
    if api_workloads {
        match api_workloads_run(&args, &launcher, &db, &pgbench, load, &run_tag, &mut rows).await {
            Ok(measured) => footprint = Some(measured),
            Err(e) => outcome = Err(e),
        }
    }
    if outcome.is_ok() && (args.runs("w6") || args.runs("w7")) {
        outcome = workers_run(&args, &launcher, &db, &run_tag, &mut rows).await;
    }
    // The rows measured before a failure are still worth having: the table comes first.
    println!("\n{}", report::table(&rows, footprint.as_ref()));
    println!("{}", report::targets(&rows, footprint.as_ref()));
    outcome
}

async fn api_workloads_run(
    args: &Args,
    launcher: &Launcher,
    db: &PgPool,
    pgbench: &Pgbench,
    load: Load,
    run_tag: &str,
    rows: &mut Vec<Row>,
) -> anyhow::Result<Footprint> {
    let base = format!("http://127.0.0.1:{}", args.port);
    let api_env = [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", args.port.to_string()),
        ("RATE_LIMIT_ENABLED", "false".to_owned()),
    ];
    let mut api_process = launcher
        .start("toko-api", &api_env, &format!("{base}/health/ready"))
        .await?;
    let mut footprint = Footprint {
        start_to_ready_ms: api_process.start_to_ready.as_secs_f64() * 1000.0,
        ..Footprint::default()
    };
    eprintln!("toko-api ready in {:.0} ms", footprint.start_to_ready_ms);
    tokio::time::sleep(Duration::from_millis(500)).await;
    footprint.rss_idle_mib = api_process.rss_mib().unwrap_or_default();
    // A dead API fails every later request fast: say so on the workload it died in and stop.
    macro_rules! check_alive {
        () => {
            footprint.rss_peak_mib = api_process.peak_rss_mib().unwrap_or(footprint.rss_peak_mib);
            if !api_process.is_running() {
                if let Some(last) = rows.last_mut() {
                    last.note.push_str(" **toko-api exited during this workload** (see .tmp/bench-logs/toko-api.log)");
                }
                return Ok(footprint);
            }
        };
    }
    let api = Api::new(&base, args.connections)?;
    let fixtures = Fixtures::load(db, &api, args.connections, run_tag).await?;

    let warmup = Load {
        duration: args.warmup,
        ..load
    };
    let _ = catalog::list_first_page(&api, warmup).await;
    if READS.iter().any(|w| args.runs(w)) {
        let select_only = yardstick(pgbench, Script::SelectOnly, load, rows).await?;
        if args.runs("w1") || args.runs("w8") {
            let sampler = RssSampler::start(&api_process);
            let summary = catalog::list_first_page(&api, load).await;
            footprint.rss_under_w1_mib = sampler.stop().await;
            rows.push(row("W1a list, first page of 20", summary, select_only, ""));
            check_alive!();
            let summary = catalog::list_by_category(&api, load, &fixtures.category_slugs).await;
            rows.push(row("W1b list, category filter", summary, select_only, ""));
            check_alive!();
        }
        if args.runs("w2") {
            let summary = catalog::product_by_id(&api, load, &fixtures.product_ids).await;
            rows.push(row("W2 product by id", summary, select_only, ""));
            check_alive!();
        }
        if args.runs("w3") {
            rows.push(row(
                "W3 search mix",
                search::mix(&api, load).await,
                select_only,
                "",
            ));
            check_alive!();
        }
        if LONG_TAIL.iter().any(|w| args.runs(w)) {
            eprintln!("long tail: reading the catalog's ids, categories, brands and words");
            let catalog = long_tail::Catalog::load(db).await?;
            if args.runs("l1") {
                let summary = long_tail::product_by_id(&api, load, &catalog).await;
                rows.push(row("L1 product by id, long tail", summary, select_only, ""));
                check_alive!();
            }
            if args.runs("l2") {
                let summary = long_tail::listing(&api, load, &catalog).await;
                rows.push(row(
                    "L2 listing, random filters and sorts",
                    summary,
                    select_only,
                    "",
                ));
                check_alive!();
            }
            if args.runs("l3") {
                let summary = long_tail::search(&api, load, &catalog).await;
                rows.push(row("L3 search, distinct queries", summary, select_only, ""));
                check_alive!();
                for kind in long_tail::SearchKind::ALL {
                    let summary = long_tail::search_cost(&api, &catalog, kind, 60).await;
                    let label = format!("L3 cost: {}", kind.label());
                    rows.push(row_unit(
                        &label,
                        "req/s",
                        summary,
                        "one connection, 60 queries",
                    ));
                }
                check_alive!();
            }
            if args.runs("l4") {
                let summary = long_tail::mixed_shop(
                    &api,
                    load,
                    &catalog,
                    &fixtures.tokens,
                    &fixtures.variant_ids,
                )
                .await;
                let note = "50% product, 25% listing, 12% search, 10% add to cart, 3% checkout";
                rows.push(row("L4 mixed shop", summary, select_only, note));
                check_alive!();
            }
        }
    }
    if args.runs("w4") || args.runs("w5") {
        let tpc_b = yardstick(pgbench, Script::TpcB, load, rows).await?;
        if args.runs("w4") {
            let summary =
                cart::add_items(&api, load, &fixtures.tokens, &fixtures.variant_ids).await;
            rows.push(row("W4 add to cart", summary, tpc_b, ""));
            check_alive!();
        }
        if args.runs("w5") {
            let summary =
                checkout::spread(&api, load, &fixtures.tokens, &fixtures.variant_ids, None).await;
            rows.push(row("W5a checkout, spread", summary, tpc_b, ""));
            check_alive!();
            checkout::prepare_code(db).await?;
            let summary = checkout::spread(
                &api,
                load,
                &fixtures.tokens,
                &fixtures.variant_ids,
                Some(checkout::BENCH_CODE),
            )
            .await;
            rows.push(row("W5c checkout, spread, with a code", summary, tpc_b, ""));
            check_alive!();
            let (summary, hot) = checkout::hot_variants(&api, db, load, &fixtures.tokens).await?;
            let note = format!(
                "sold {} of {} units, {} sold-out refusals, **oversold {}**",
                hot.sold, hot.initial_stock, summary.refused, hot.oversold
            );
            rows.push(row("W5b checkout, 5 hot variants", summary, tpc_b, &note));
            check_alive!();
        }
    }
    footprint.rss_peak_mib = api_process.peak_rss_mib().unwrap_or_default();
    api_process.stop().await;
    Ok(footprint)
}

async fn workers_run(
    args: &Args,
    launcher: &Launcher,
    db: &PgPool,
    run_tag: &str,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let discarded = relay::discard_backlog(db).await?;
    eprintln!("marked {discarded} pending events of earlier workloads published");
    relay::bind_bench_queue(&args.rabbitmq_url).await?;
    let relay_env = [("METRICS_PORT", "9190".to_owned())];
    let relay_process = launcher
        .start(
            "outbox-relay",
            &relay_env,
            "http://127.0.0.1:9190/health/ready",
        )
        .await?;
    if args.runs("w6") {
        // The relay's defaults: batches of 500, three at once while a backlog lasts.
        eprintln!(
            "W6 yardstick: publishing {} messages straight to the broker",
            args.relay_events
        );
        let broker = relay::broker_yardstick(&args.rabbitmq_url, args.relay_events, 500, 3).await?;
        let note = format!(
            "{} persistent messages, confirms, batches of 500 on 3 channels",
            broker.requests
        );
        let broker_rate = broker.throughput;
        rows.push(row_unit(
            "broker publish (yardstick)",
            "msg/s",
            broker,
            &note,
        ));
        eprintln!("W6: relaying {} events", args.relay_events);
        let summary = relay::measure(db, args.relay_events).await?;
        let note = format!(
            "{} events; latency = row created to marked published; ratio to the broker alone",
            summary.requests
        );
        rows.push(Row {
            unit: "events/s",
            ..row(
                "W6 outbox relay",
                summary,
                ("broker publish", broker_rate),
                &note,
            )
        });
    }
    relay::delete_bench_queue(&args.rabbitmq_url).await?;
    if args.runs("w7") {
        eprintln!("W7: {} emails", args.emails);
        let deliveries = smtp_sink::start(args.smtp_port, run_tag.to_owned()).await?;
        let notifier_env = [
            ("METRICS_PORT", "9191".to_owned()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{}", args.smtp_port)),
            ("CONCURRENCY", args.notifier_concurrency.to_string()),
            // The prefetch window must cover the messages handled at once.
            ("PREFETCH", (args.notifier_concurrency * 4).to_string()),
        ];
        let summary = notifier::measure(
            db,
            launcher,
            &notifier_env,
            &deliveries,
            run_tag,
            args.emails,
        )
        .await?;
        let note = format!(
            "{} emails delivered, CONCURRENCY={}",
            summary.requests, args.notifier_concurrency
        );
        rows.push(row_unit("W7 notifier", "emails/s", summary, &note));
    }
    relay_process.stop().await;
    Ok(())
}

async fn yardstick(
    pgbench: &Pgbench,
    script: Script,
    load: Load,
    rows: &mut Vec<Row>,
) -> anyhow::Result<(&'static str, f64)> {
    let name = match script {
        Script::SelectOnly => "pgbench -S",
        Script::TpcB => "pgbench TPC-B",
    };
    eprintln!("{name}: {} clients, {:?}", load.connections, load.duration);
    let summary = pgbench.run(script, load.connections, load.duration).await?;
    rows.push(row_unit(name, "tps", summary.clone(), "yardstick"));
    Ok((name, summary.throughput))
}

fn row(workload: &str, summary: Summary, yardstick: (&'static str, f64), note: &str) -> Row {
    Row {
        workload: workload.into(),
        unit: "req/s",
        summary,
        yardstick: Some(yardstick),
        note: note.into(),
    }
}

fn row_unit(workload: &str, unit: &'static str, summary: Summary, note: &str) -> Row {
    Row {
        workload: workload.into(),
        unit,
        summary,
        yardstick: None,
        note: note.into(),
    }
}

/// Samples the API's RSS every 250 ms while a workload runs; keeps the largest.
struct RssSampler {
    task: tokio::task::JoinHandle<f64>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl RssSampler {
    fn start(service: &Service) -> Self {
        let pid = service.pid();
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut max: f64 = 0.0;
            while stopped.try_recv().is_err() {
                if let Some(rss) = pid.and_then(processes::rss_mib_of) {
                    max = max.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            max
        });
        Self { task, stop }
    }

    async fn stop(self) -> f64 {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}
