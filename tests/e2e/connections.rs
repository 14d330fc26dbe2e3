//! Connections cannot be hoarded, and a shutdown loses no request: what a
//! client sees on its socket when it sends nothing, sits idle, opens one
//! connection too many, or is busy at the moment the server gets SIGTERM.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use guichet_tests::{TestApp, bare_client, env_for, free_port, fresh_settings, spawn_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::guichet_bin;

/// Opens a raw connection to the public listener.
async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads what the server sends until it closes the connection or `within`
/// passes; returns the text and whether the connection was closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

/// Sends one keep-alive `GET /healthz` and reads its whole (small) response.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

#[tokio::test]
async fn a_connection_that_sends_nothing_or_half_its_headers_is_closed_after_the_header_timeout() {
    let mut s = fresh_settings().await;
    s.server.header_timeout_secs = std::time::Duration::from_secs(1);
    s.server.keepalive_timeout_secs = std::time::Duration::from_secs(30);
    let app = spawn_with(s).await;
    let started = Instant::now();
    let mut silent = connect(&app).await;
    let mut partial = connect(&app).await;
    // Fewer bytes than hyper needs to tell HTTP/1 from HTTP/2.
    partial.write_all(b"GET / HTTP/1").await.unwrap();
    for stream in [&mut silent, &mut partial] {
        let (answer, closed) = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed, "still open after 5 s");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "closed after {took:?}, not after the 1 s header timeout"
    );
    let r = bare_client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout() {
    let mut s = fresh_settings().await;
    s.server.header_timeout_secs = std::time::Duration::from_secs(10);
    s.server.keepalive_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(s).await;
    let mut stream = connect(&app).await;
    // Two requests on one connection: it is kept alive between them.
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    let idle = Instant::now();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(8)).await;
    assert!(closed, "still open after 8 s idle");
    assert!(answer.is_empty(), "{answer}");
    let took = idle.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "closed after {took:?} idle: the keep-alive timeout is 1 s, the header timeout 10 s"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_sent_goaway_and_closed() {
    let mut s = fresh_settings().await;
    s.server.keepalive_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(s).await;
    let mut stream = connect(&app).await;
    // The prior-knowledge preface and an empty SETTINGS frame, then nothing.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    assert!(closed, "an idle HTTP/2 connection is still open after 8 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Frames: 3-byte length, type, flags, stream id. A GOAWAY (type 7) came.
    let mut at = 0;
    let mut goaway = false;
    while at + 9 <= got.len() {
        let len =
            usize::from(got[at]) << 16 | usize::from(got[at + 1]) << 8 | usize::from(got[at + 2]);
        goaway |= got[at + 3] == 7;
        at += 9 + len;
    }
    assert!(goaway, "closed without a GOAWAY: {got:?}");
}

#[tokio::test]
async fn past_the_per_address_cap_a_new_connection_is_shed_and_the_others_keep_working() {
    let mut s = fresh_settings().await;
    s.server.max_connections_per_ip = 3;
    let app = spawn_with(s).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    // The fourth is accepted by the kernel, then closed at once, unanswered.
    let started = Instant::now();
    let mut extra = connect(&app).await;
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await;
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(
        closed && answer.is_empty(),
        "the fourth was served: {answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(1), "shed slowly");
    // The three it holds go on working.
    for stream in &mut held {
        assert!(healthz(stream).await.starts_with("HTTP/1.1 200"));
    }
    // Once one closes, a new connection is served.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect(&app).await;
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await;
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await
            && buf[..n].starts_with(b"HTTP/1.1 200")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed after a close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One trial: `clients` keep-alive clients request as fast as they can while
/// the process gets SIGTERM. Returns (answered, failed): a request fails if
/// it reached the server (the connection was open) and got no answer, or an
/// answer other than 200. A refused connection is no failure: the client
/// knows the request never arrived and may send it elsewhere.
async fn sigterm_under_load(settings: &guichet::Settings, clients: usize) -> (usize, Vec<String>) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(guichet_bin())
        .arg("serve")
        .envs(env_for(settings))
        .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GUICHET__SERVER__PUBLIC_URL", &base)
        .env("GUICHET__OPERATOR__BIND", "")
        .env("GUICHET__LOG__LEVEL", "warn")
        .env("GUICHET__SERVER__SHUTDOWN_DRAIN_MS", "500")
        .spawn()
        .unwrap();
    guichet_tests::wait_ready(&format!("{base}/healthz")).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (answered, failures, stop) = (answered.clone(), failures.clone(), stop.clone());
        let url = if i % 2 == 0 {
            format!("{base}/healthz")
        } else {
            format!("{base}/.well-known/openid-configuration")
        };
        tasks.push(tokio::spawn(async move {
            let client = bare_client();
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(format!("body: {e:?}")),
                    },
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("status {}", r.status())),
                    // Refused: the server is gone, and the request never reached it.
                    Err(e) if e.is_connect() => return,
                    Err(e) => failures.lock().unwrap().push(format!("{e:?}")),
                }
            }
        }));
    }
    // Let every client get a kept-alive connection and some load build up.
    while answered.load(Ordering::Relaxed) < clients * 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exited.success(), "exit status {exited}");
    // Every client has either been refused or is about to be.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tasks.iter().all(tokio::task::JoinHandle::is_finished) {
        assert!(
            Instant::now() < deadline,
            "clients still running after exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let failed = failures.lock().unwrap().clone();
    (answered.load(Ordering::Relaxed), failed)
}

#[tokio::test]
async fn sigterm_under_keep_alive_load_loses_no_request() {
    let settings = fresh_settings().await;
    let mut total = 0;
    for trial in 0..20 {
        let (answered, failed) = sigterm_under_load(&settings, 16).await;
        assert!(
            failed.is_empty(),
            "trial {trial}: {} of {} requests failed: {failed:?}",
            failed.len(),
            answered + failed.len()
        );
        total += answered;
    }
    assert!(total > 0);
}
