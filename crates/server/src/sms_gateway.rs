//! The production SMS transport: an HTTP gateway. It lives here rather than in
//! `mfa` because only this crate speaks HTTP; `mfa` knows the
//! [`mfa::SmsTransport`] interface alone.

use std::time::Duration;

use mfa::{MfaError, SmsTransport};

/// Hands messages to an HTTP gateway: `POST <url>` with the JSON body
/// `{"to": "+44…", "text": "…"}` and, when configured, a bearer token. Any
/// answer other than 2xx is an error naming the status.
#[derive(Clone)]
pub struct HttpSmsGateway {
    client: reqwest::Client,
    url: url::Url,
    bearer_token: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpSmsGateway {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSmsGateway")
            .field("url", &self.url.as_str())
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpSmsGateway {
    /// A gateway at `url`; `timeout` bounds each whole request.
    pub fn new(url: url::Url, bearer_token: Option<String>, timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::new(),
            url,
            bearer_token,
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl SmsTransport for HttpSmsGateway {
    async fn send(&self, to: &str, text: &str) -> Result<(), MfaError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .json(&serde_json::json!({ "to": to, "text": text }));
        if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|e| {
            // Without the URL: some gateways carry their key in the query string.
            let e = e.without_url();
            MfaError::Transport(format!("the SMS gateway could not be reached ({e})"))
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(MfaError::Transport(format!(
                "the SMS gateway answered {status}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves one HTTP request on a local port with the given status, and
    /// hands back the raw request.
    async fn one_shot_server(status: &'static str) -> (url::Url, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            url::Url::parse(&format!("http://{}/sms", listener.local_addr().unwrap())).unwrap();
        let handle = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            sock.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8(buf).unwrap()
        });
        (url, handle)
    }

    #[tokio::test]
    async fn gateway_posts_json_with_bearer_token() {
        let (url, server) = one_shot_server("202 Accepted").await;
        let gw = HttpSmsGateway::new(url, Some("t0ken".into()), Duration::from_secs(5));
        assert!(!format!("{gw:?}").contains("t0ken"));
        gw.send("+447700900123", "Your code").await.unwrap();
        let req = server.await.unwrap();
        assert!(req.starts_with("POST /sms HTTP/1.1\r\n"), "{req}");
        let lower = req.to_ascii_lowercase();
        assert!(lower.contains("authorization: bearer t0ken"), "{req}");
        assert!(lower.contains("content-type: application/json"), "{req}");
        let body = req.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"to": "+447700900123", "text": "Your code"})
        );
    }

    #[tokio::test]
    async fn gateway_error_names_the_status() {
        let (url, server) = one_shot_server("503 Service Unavailable").await;
        let gw = HttpSmsGateway::new(url, None, Duration::from_secs(5));
        let err = gw.send("+447700900123", "Your code").await.unwrap_err();
        server.await.unwrap();
        match err {
            MfaError::Transport(msg) => assert!(msg.contains("503"), "{msg}"),
            other => panic!("expected Transport, got {other:?}"),
        }
    }
}
