//! Connections: slow or numerous clients cannot take the API down, and `/metrics` is not on
//! the public port.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use toko_testkit::TestApp;

fn address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

/// Waits for the server to close the connection; the time it took, or `None` after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_request_head_must_arrive_within_the_head_timeout_however_it_trickles() {
    let app = TestApp::builder()
        .setting("HEADER_READ_TIMEOUT", "1s")
        .spawn()
        .await;
    let addr = address(&app);

    // Connects and says nothing.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // Starts a head and stops.
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    // Keeps sending a header byte every 200 ms: never idle, never done.
    let mut trickling = TcpStream::connect(&addr).await.unwrap();
    trickling
        .write_all(b"GET / HTTP/1.1\r\nX-A: ")
        .await
        .unwrap();
    let trickle = async {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            if trickling.write_all(b"a").await.is_err() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    };
    let (silent, stalled, trickled) = tokio::join!(
        closed_within(&mut silent, Duration::from_secs(4)),
        closed_within(&mut stalled, Duration::from_secs(4)),
        trickle,
    );
    for (name, closed) in [
        ("silent", silent),
        ("stalled", stalled),
        ("trickling", trickled),
    ] {
        let after = closed.unwrap_or_else(|| panic!("the {name} connection was kept open"));
        assert!(
            after < Duration::from_secs(3),
            "{name} closed after {after:?}"
        );
    }

    // A client that sends its request in time is served as usual.
    app.anonymous().get("/health/live").expect(200).await;
}

#[tokio::test]
async fn thousands_of_slow_connections_do_not_slow_down_other_clients() {
    const SLOW: usize = 5_000;
    let app = TestApp::builder()
        .setting("HEADER_READ_TIMEOUT", "60s")
        .setting("MAX_CONNECTIONS", "6000")
        .spawn()
        .await;
    let addr = address(&app);
    let latency = |app: &TestApp| {
        let request = app.anonymous().get("/health/live").into_future();
        async move {
            let started = Instant::now();
            let resp = request.await;
            assert_eq!(resp.status(), 200);
            started.elapsed()
        }
    };
    let mut baseline = Duration::ZERO;
    for _ in 0..20 {
        baseline = baseline.max(latency(&app).await);
    }

    let rss_before = resident_kib();
    let mut held = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    let started = Instant::now();
    while open_connections(&app).await < SLOW as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server holds the slow connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{SLOW} slow connections held; this process (client and server) grew by {} KiB",
        resident_kib().saturating_sub(rss_before)
    );

    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        worst = worst.max(latency(&app).await);
    }
    eprintln!("slowest of 20 requests: {baseline:?} before, {worst:?} while held");
    assert!(
        worst < Duration::from_millis(500).max(baseline * 5),
        "with {SLOW} slow connections held, the slowest of 20 requests took {worst:?} \
         (baseline {baseline:?})"
    );
    drop(held);
}

#[tokio::test]
async fn at_the_connection_cap_new_clients_wait_for_a_slot_instead_of_being_accepted() {
    let app = TestApp::builder()
        .setting("MAX_CONNECTIONS", "8")
        .setting("HEADER_READ_TIMEOUT", "2s")
        .spawn()
        .await;
    let addr = address(&app);
    let mut held = Vec::new();
    for _ in 0..12 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = open_connections(&app).await;
    assert_eq!(open, 8, "never more open than MAX_CONNECTIONS");

    // The head deadline frees the slots, so a waiting client is served within about it.
    let started = Instant::now();
    app.anonymous().get("/health/live").expect(200).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

async fn open_connections(app: &TestApp) -> i64 {
    let text = reqwest::get(format!("{}/metrics", app.metrics_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("toko_http_open_connections "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no open-connections gauge in {text}"))
}

#[tokio::test]
async fn metrics_are_served_on_the_metrics_port_only() {
    let app = TestApp::spawn().await;
    app.anonymous()
        .get("/metrics")
        .expect_problem(404, "not_found")
        .await;
    let internal = reqwest::get(format!("{}/metrics", app.metrics_url))
        .await
        .unwrap();
    assert_eq!(internal.status(), 200);
    assert!(internal
        .text()
        .await
        .unwrap()
        .contains("toko_http_open_connections"));
}

/// This process's resident memory, from /proc.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
