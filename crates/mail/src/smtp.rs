//! Production transport: SMTP through lettre's pooled async client.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{MailError, MailTransport, OutgoingMail, build_message, parse_mailbox};

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain TCP, no TLS at all: only for a relay on the same host or a trusted network.
    None,
    /// Plain TCP upgraded with STARTTLS; the send fails if the server does not offer it
    /// (no silent downgrade), usually on port 587.
    StartTls,
    /// Implicit TLS from the first byte ("SMTPS"), usually on port 465.
    Tls,
}

/// Where and how to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name; with TLS it is also the name the certificate must match.
    pub host: String,
    /// Server port (typically 25, 587 or 465).
    pub port: u16,
    /// Connection security.
    pub tls: SmtpTls,
    /// Login; credentials are sent only when this is set.
    pub username: Option<String>,
    /// Password for `username`; never shown by `Debug`.
    pub password: Option<String>,
    /// Upper bound for one whole send: connecting, the SMTP dialogue and the upload.
    pub timeout: Duration,
}

// Hand-written so that logging the settings can never leak the password.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends mail to an SMTP server, reusing connections through lettre's pool.
pub struct SmtpTransport {
    from: Mailbox,
    host: String,
    port: u16,
    tls: SmtpTls,
    username: Option<String>,
    timeout: Duration,
    builder: AsyncSmtpTransportBuilder,
    // Built on first send rather than in `new`: lettre's pool spawns a Tokio
    // task when it is created, which would panic if `new` ran outside a
    // runtime (e.g. while parsing configuration before the runtime starts).
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl SmtpTransport {
    /// Validates the sender and the TLS settings and prepares the client;
    /// no connection is made until the first send.
    ///
    /// `from` is the sender mailbox, e.g. `Guichet <no-reply@example.org>`.
    pub fn new(from: &str, settings: SmtpSettings) -> Result<Self, MailError> {
        let from = parse_mailbox(from)?;
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&settings.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&settings.host)?),
        };
        // builder_dangerous only means "no TLS preset": TLS is set explicitly
        // just below, which covers all three modes with one code path.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some(username) = &settings.username {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                settings.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Self {
            from,
            host: settings.host,
            port: settings.port,
            tls: settings.tls,
            username: settings.username,
            timeout: settings.timeout,
            builder,
            transport: OnceLock::new(),
        })
    }

    async fn deliver(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, &mail)?;
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        // lettre applies its timeout to the TCP connect only; a server that
        // accepts and then stalls would hang the send forever, so the whole
        // exchange gets the same bound.
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(_)) => {
                // Never log the body: it carries verification codes and links.
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent over SMTP");
                Ok(())
            }
            Ok(Err(e)) => Err(MailError::Transport(format!(
                "{}:{}: {e}",
                self.host, self.port
            ))),
            Err(_) => Err(MailError::Transport(format!(
                "{}:{}: no answer within {:?}",
                self.host, self.port, self.timeout
            ))),
        }
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, MailError> {
    TlsParameters::new(host.to_owned())
        .map_err(|e| MailError::Transport(format!("TLS setup for {host}: {e}")))
}

impl MailTransport for SmtpTransport {
    fn send(
        &self,
        mail: OutgoingMail,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + '_>> {
        Box::pin(self.deliver(mail))
    }
}

// Hand-written: shows where mail goes, and never the password.
impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("from", &self.from.to_string())
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpTransport {
    fn drop(&mut self) {
        // Dropping lettre's pool spawns a Tokio task to close idle
        // connections, which panics without a runtime (e.g. when the value
        // outlives the runtime at shutdown). Without a runtime those sockets
        // are unusable anyway, so the pool is leaked instead of panicking.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(transport) = self.transport.take()
        {
            std::mem::forget(transport);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::Instant;

    fn settings(port: u16, timeout: Duration) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            timeout,
        }
    }

    fn sample(subject: &str) -> OutgoingMail {
        OutgoingMail {
            to: "alice@example.org".into(),
            subject: subject.into(),
            text: "Your code is 271828.".into(),
            html: "<p>Your code is <b>271828</b>.</p>".into(),
        }
    }

    /// A port nothing listens on (bound by the OS, then released).
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// An aiosmtpd process whose stdout lines arrive on `lines`; killed on drop.
    struct Aiosmtpd {
        child: Child,
        port: u16,
        lines: mpsc::Receiver<String>,
    }

    impl Drop for Aiosmtpd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Aiosmtpd {
        fn start() -> Self {
            // CI installs aiosmtpd; a missing one must fail loudly rather
            // than let the SMTP path go untested.
            match Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .output()
            {
                Ok(out) if out.status.success() => {}
                Ok(out) => panic!(
                    "python3 cannot import aiosmtpd (install it with `pip install aiosmtpd`): {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => panic!(
                    "python3 is needed to run aiosmtpd for the SMTP test, and could not be run: {e}"
                ),
            }
            let port = free_port();
            let mut child = Command::new("python3")
                .args(["-u", "-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn python3 -m aiosmtpd");
            let stdout = child.stdout.take().unwrap();
            let (tx, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut server = Self { child, port, lines };
            let deadline = Instant::now() + Duration::from_secs(15);
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = server.child.try_wait() {
                    let mut err = String::new();
                    let _ = server.child.stderr.take().unwrap().read_to_string(&mut err);
                    panic!("aiosmtpd exited early ({status}): {err}");
                }
                assert!(
                    Instant::now() < deadline,
                    "aiosmtpd did not listen on port {port} within 15 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            server
        }

        /// Waits until a printed line contains `needle`, returning everything read so far.
        fn wait_for(&self, needle: &str) -> String {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut seen = String::new();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(line) => {
                        seen.push_str(&line);
                        seen.push('\n');
                        if line.contains(needle) {
                            return seen;
                        }
                    }
                    Err(_) => panic!("aiosmtpd never printed {needle:?}; it printed:\n{seen}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn delivers_to_a_real_smtp_server() {
        let server = Aiosmtpd::start();
        let transport = SmtpTransport::new(
            "Guichet <no-reply@localhost>",
            settings(server.port, Duration::from_secs(10)),
        )
        .unwrap();
        let subject = format!("Verify your address {}", uuid::Uuid::new_v4());
        transport.send(sample(&subject)).await.unwrap();
        let printed = server.wait_for(&format!("Subject: {subject}"));
        assert!(printed.contains("To: alice@example.org"), "{printed}");

        // A second message goes through the pooled connection.
        let second = format!("Second {}", uuid::Uuid::new_v4());
        transport.send(sample(&second)).await.unwrap();
        server.wait_for(&format!("Subject: {second}"));
    }

    #[tokio::test]
    async fn closed_port_fails_within_the_timeout() {
        let timeout = Duration::from_secs(3);
        let transport =
            SmtpTransport::new("no-reply@localhost", settings(free_port(), timeout)).unwrap();
        let started = Instant::now();
        let result = transport.send(sample("never delivered")).await;
        assert!(
            matches!(result, Err(MailError::Transport(_))),
            "got {result:?}"
        );
        assert!(started.elapsed() <= timeout, "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn silent_server_fails_after_the_timeout() {
        // Connections complete in the kernel backlog, but no greeting ever comes.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let timeout = Duration::from_millis(500);
        let transport = SmtpTransport::new("no-reply@localhost", settings(port, timeout)).unwrap();
        let started = Instant::now();
        let result = transport.send(sample("never delivered")).await;
        let elapsed = started.elapsed();
        match result {
            Err(MailError::Transport(msg)) => assert!(msg.contains("no answer"), "{msg}"),
            other => panic!("expected Transport, got {other:?}"),
        }
        assert!(elapsed >= timeout, "took {elapsed:?}");
        assert!(
            elapsed < timeout + Duration::from_secs(2),
            "took {elapsed:?}"
        );
        drop(listener);
    }

    #[tokio::test]
    async fn invalid_recipient_is_rejected_before_connecting() {
        let transport = SmtpTransport::new(
            "no-reply@localhost",
            settings(free_port(), Duration::from_secs(3)),
        )
        .unwrap();
        let mail = OutgoingMail {
            to: "bob@@example.org".into(),
            ..sample("x")
        };
        match transport.send(mail).await {
            Err(MailError::InvalidAddress(a)) => assert_eq!(a, "bob@@example.org"),
            other => panic!("expected InvalidAddress, got {other:?}"),
        }
    }

    #[test]
    fn invalid_sender_is_rejected() {
        let result = SmtpTransport::new("Guichet", settings(25, Duration::from_secs(1)));
        assert!(matches!(result, Err(MailError::InvalidAddress(a)) if a == "Guichet"));
    }

    #[test]
    fn every_tls_mode_builds_without_a_runtime_and_hides_the_password() {
        for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
            let settings = SmtpSettings {
                host: "smtp.example.org".into(),
                port: 587,
                tls,
                username: Some("guichet".into()),
                password: Some("hunter2-secret".into()),
                timeout: Duration::from_secs(5),
            };
            let shown = format!("{settings:?}");
            assert!(!shown.contains("hunter2-secret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            let transport = SmtpTransport::new("no-reply@example.org", settings).unwrap();
            let shown = format!("{transport:?} {transport:#?}");
            assert!(!shown.contains("hunter2-secret"), "{shown}");
            assert!(shown.contains("smtp.example.org"), "{shown}");
        }
    }

    #[test]
    fn can_be_dropped_after_its_runtime() {
        let transport = SmtpTransport::new(
            "no-reply@localhost",
            settings(free_port(), Duration::from_secs(3)),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Sending builds the pool inside this runtime.
        let _ = runtime.block_on(transport.send(sample("x")));
        drop(runtime);
        drop(transport);
    }
}
