//! The fault suite's load generator (`scripts/faults.sh`).
//!
//! `guichet-loadgen load URL SECONDS CLIENTS OUT [BASIC_USER:PASS BODY]`
//!   keep-alive clients send requests as fast as they can for SECONDS (a POST
//!   of the form BODY with basic authentication when given, else GET) and write
//!   one line per request to OUT: `start_ms end_ms status`, times in
//!   milliseconds since the Unix epoch, status 0 for a request that got no
//!   answer at all (refused, reset, timed out after 10 s). Every request is
//!   counted.
//!
//! `guichet-loadgen hoard HOST:PORT COUNT SOURCES SECONDS`
//!   opens COUNT connections spread over SOURCES local addresses
//!   (127.0.0.2, 127.0.0.3, …): every other one sends a whole request, reads
//!   the answer and stays idle, the rest send half a request line and nothing
//!   more. It holds them SECONDS, then prints how many were still open, how
//!   many the server had closed, and how many failed to open.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("load") if args.len() >= 5 => load(&args[1..]).await,
        Some("hoard") if args.len() == 5 => hoard(&args[1..]).await,
        _ => {
            eprintln!("usage: see the top of tests/bin/loadgen.rs");
            std::process::exit(2);
        }
    }
}

async fn load(args: &[String]) {
    let url = args[0].clone();
    let seconds: u64 = args[1].parse().expect("SECONDS");
    let clients: usize = args[2].parse().expect("CLIENTS");
    let out = args[3].clone();
    let post = args
        .get(4)
        .zip(args.get(5))
        .map(|(auth, body)| (auth.clone(), body.clone()));
    let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, post) = (url.clone(), post.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut lines = String::new();
            while tokio::time::Instant::now() < end {
                let start = now_ms();
                let request = match &post {
                    Some((auth, body)) => {
                        let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
                        client
                            .post(&url)
                            .basic_auth(user, Some(pass))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(body.clone())
                    }
                    None => client.get(&url),
                };
                let status = match request.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.bytes().await {
                            Ok(_) => status,
                            Err(_) => 0,
                        }
                    }
                    Err(_) => 0,
                };
                lines.push_str(&format!("{start} {} {status}\n", now_ms()));
                if status == 0 {
                    // A refused connection comes back at once: do not spin.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            lines
        }));
    }
    let mut all = String::new();
    for t in tasks {
        all.push_str(&t.await.expect("client task"));
    }
    std::fs::write(&out, all).expect("write OUT");
}

async fn hoard(args: &[String]) {
    let target: SocketAddr = args[0].parse().expect("HOST:PORT");
    let count: usize = args[1].parse().expect("COUNT");
    let sources: u8 = args[2].parse().expect("SOURCES");
    let seconds: u64 = args[3].parse().expect("SECONDS");
    let open = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for i in 0..count {
        let source = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            2 + (i % usize::from(sources)) as u8,
        ));
        let (open, closed, failed) = (open.clone(), closed.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            let stream = async {
                socket.bind(SocketAddr::new(source, 0))?;
                socket.connect(target).await
            };
            let Ok(mut stream) = stream.await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            open.fetch_add(1, Ordering::Relaxed);
            let mut buf = vec![0u8; 2048];
            let sent = if i % 2 == 0 {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nhost: hoard\r\n\r\n")
                    .await
            } else {
                stream.write_all(b"GET /healthz HTT").await
            };
            let gone = if sent.is_err() {
                true
            } else {
                // Read until the server closes or the hold ends; an answer
                // to the whole request is read and the connection kept idle.
                loop {
                    match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => break true,
                        Ok(Ok(_)) => continue,
                        Err(_) => break false,
                    }
                }
            };
            open.fetch_sub(1, Ordering::Relaxed);
            if gone {
                closed.fetch_add(1, Ordering::Relaxed);
            }
        }));
        if i % 500 == 499 {
            // Pace the opening a little, as many clients would.
            tokio::task::yield_now().await;
        }
    }
    let report = tokio::time::sleep_until(until - Duration::from_millis(500));
    report.await;
    println!(
        "open={} closed_by_server={} failed_to_open={}",
        open.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    for t in tasks {
        let _ = t.await;
    }
}
