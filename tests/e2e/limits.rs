//! Request limits: what a huge or slow client gets, and that the server still
//! answers everyone else afterwards.

use std::time::{Duration, Instant};

use guichet_tests::{TestApp, bare_client, fresh_settings, spawn_app, spawn_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The instance still serves a normal request.
async fn still_answers(app: &TestApp) {
    let r = bare_client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Opens a raw connection to the public listener.
async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.unwrap()
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
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let mut s = fresh_settings().await;
    s.server.max_body_bytes = 4096;
    let app = spawn_with(s).await;
    // Declared length over the limit: refused before the body is read.
    let r = bare_client()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("identifier={}", "x".repeat(5000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().len() < 4096);

    // Chunked, no declared length: refused once the limit is crossed.
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nhost: localhost\r\n\
              content-type: application/x-www-form-urlencoded\r\n\
              transfer-encoding: chunked\r\n\r\n",
        )
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 1000, "x".repeat(1000));
    for _ in 0..5 {
        // The server may answer and close before the last chunks are sent.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too large"), "{answer}");
    still_answers(&app).await;
}

#[tokio::test]
async fn headers_over_the_limit_get_431() {
    let app = spawn_app().await;
    let limit = app.settings.server.max_header_bytes;

    // Headers well within the limit are served.
    let r = bare_client()
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(limit / 2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A request whose headers fill the limit without ending gets 431, and the
    // connection is closed.
    let mut stream = connect(&app).await;
    let start = "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-padding: ";
    let request = format!("{start}{}", "a".repeat(limit - start.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(closed);
    still_answers(&app).await;
}

#[tokio::test]
async fn a_form_with_too_many_fields_gets_413() {
    let app = spawn_app().await;
    let max = app.settings.server.max_form_fields;
    let body = vec!["a=1"; max + 1].join("&");
    let r = bare_client()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("Too many form fields"));

    // At the limit the form is read as usual (and refused for its missing
    // anti-CSRF token, which is not the limit's business).
    let body = vec!["a=1"; max].join("&");
    let r = bare_client()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 413);
    still_answers(&app).await;
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    let mut s = fresh_settings().await;
    s.server.header_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(s).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    // The blank line that ends the headers never comes.
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "still open after 5 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    still_answers(&app).await;
}

#[tokio::test]
async fn a_client_slow_to_send_its_body_gets_408() {
    let mut s = fresh_settings().await;
    s.server.request_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(s).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nhost: localhost\r\n\
              content-type: application/x-www-form-urlencoded\r\n\
              content-length: 100\r\n\r\nidentifier=",
        )
        .await
        .unwrap();
    // The other 89 bytes never come.
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed, "still open after 5 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    still_answers(&app).await;
}
