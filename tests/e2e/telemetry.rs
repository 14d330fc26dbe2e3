//! OpenTelemetry traces over OTLP/HTTP, received by a collector stand-in
//! that speaks the protocol's HTTP/JSON binding.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use guichet_tests::{bare_client, env_for, free_port, fresh_settings, wait_ready};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::guichet_bin;

/// Accepts OTLP/HTTP exports on `/v1/traces` and keeps their JSON bodies.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let body = buf[end + 4..end + 4 + len].to_vec();
                    buf.drain(..end + 4 + len);
                    if head.starts_with("post /v1/traces")
                        && head.contains("content-type: application/json")
                        && let Ok(v) = serde_json::from_slice::<Value>(&body)
                    {
                        keep.lock().unwrap().push(v);
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, got)
}

fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a Value> {
    attrs
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test]
async fn request_spans_reach_an_otlp_collector_with_their_request_id() {
    let (otlp, exports) = collector().await;
    let settings = fresh_settings().await;
    let port = free_port();
    let mut child = std::process::Command::new(guichet_bin())
        .arg("serve")
        .envs(env_for(&settings))
        .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GUICHET__TELEMETRY__OTLP_ENDPOINT", &otlp)
        .env("GUICHET__TELEMETRY__SERVICE_NAME", "guichet-under-test")
        .env("GUICHET__LOG__LEVEL", "info")
        // The SDK's batch delay, short so that the test does not wait 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/healthz")).await;
    let r = bare_client()
        .get(format!("{base}/oauth2/jwks"))
        .header("x-request-id", "otlp-check-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut found = None;
    for _ in 0..100 {
        let all = exports.lock().unwrap().clone();
        for export in &all {
            for rs in export["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for span in ss["spans"].as_array().into_iter().flatten() {
                        if attr(&span["attributes"], "request_id")
                            .is_some_and(|v| v["stringValue"] == "otlp-check-0001")
                        {
                            found = Some((rs["resource"].clone(), span.clone()));
                        }
                    }
                }
            }
        }
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().ok();
    child.wait().ok();
    let (resource, span) = found.expect("the request's span was exported");
    assert_eq!(
        attr(&resource["attributes"], "service.name").unwrap()["stringValue"],
        "guichet-under-test"
    );
    assert_eq!(span["name"], "GET /oauth2/jwks");
    assert_eq!(
        attr(&span["attributes"], "status").unwrap()["intValue"],
        "200",
        "{span}"
    );
    assert_eq!(span["traceId"].as_str().map(str::len), Some(32));
}
