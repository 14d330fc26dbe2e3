//! A real SMTP server for end-to-end tests: Python's aiosmtpd on a loopback
//! port, keeping every message it receives as a file, and able to go down and
//! come back on the same port so that tests can watch mail wait and then arrive.

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guichet::Settings;

use crate::{TestApp, free_port, fresh_settings, spawn_with, unique};

/// The server: aiosmtpd's `Controller` with a handler that writes each
/// message, as received, to `<dir>/<time>-<uuid>.eml` (through a temporary
/// name and a rename, so a reader never sees half a message).
const SERVER_PY: &str = r#"
import os, sys, threading, time, uuid
from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])

class Keep:
    async def handle_DATA(self, server, session, envelope):
        name = "%020d-%s" % (time.time_ns(), uuid.uuid4().hex)
        tmp = os.path.join(out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(out, name + ".eml"))
        return "250 OK"

Controller(Keep(), hostname="127.0.0.1", port=port).start()
threading.Event().wait()
"#;

/// How long [`SmtpSink::wait_for`] waits.
const WAIT: Duration = Duration::from_secs(10);

/// An SMTP server on `127.0.0.1:<port>` that accepts everything and keeps it.
/// The process is killed and the messages removed when the sink is dropped.
pub struct SmtpSink {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// Starts the server on a free loopback port; returns once it listens.
    /// Panics, saying how to install it, if aiosmtpd is missing: the SMTP
    /// path must fail loudly rather than go untested.
    pub fn start() -> Self {
        match Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "python3 cannot import aiosmtpd (install it with `pip install aiosmtpd`, \
                 or run ./scripts/test.sh): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("python3 is needed to run aiosmtpd, and could not be run: {e}"),
        }
        let dir = std::env::temp_dir().join(unique("guichet-smtp-"));
        std::fs::create_dir_all(&dir).expect("SMTP sink directory");
        let mut sink = Self {
            port: free_port(),
            dir,
            child: None,
        };
        sink.launch();
        sink
    }

    /// The port it listens on, the same across [`Self::stop`] and [`Self::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory the received messages are kept in, as `.eml` files
    /// (what a [`TestApp`]'s `mailbox` points to when it mails through here).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Kills the server: connections to its port are refused until
    /// [`Self::restart`]. Messages received so far are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port; returns once it listens.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let mut child = Command::new("python3")
            .args(["-u", "-c", SERVER_PY])
            .arg(&self.dir)
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3 with aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("aiosmtpd exited early ({status}): {err}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("aiosmtpd did not listen on port {} within 15 s", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Every message received so far, oldest first, raw, with quoted-printable
    /// soft line breaks undone (as `wait_for_mail` does for the outbox).
    pub fn messages(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| raw.replace("=\r\n", "").replace("=3D", "="))
            .collect()
    }

    /// The messages addressed to `to` whose decoded text contains `needle`.
    pub fn messages_to(&self, to: &str, needle: &str) -> Vec<String> {
        let header = format!("To: {to}");
        self.messages()
            .into_iter()
            .filter(|m| m.lines().any(|l| l == header) && m.contains(needle))
            .collect()
    }

    /// Waits up to 10 s for a message to `to` containing `needle` and returns it.
    pub async fn wait_for(&self, to: &str, needle: &str) -> String {
        self.wait_for_within(to, needle, WAIT).await
    }

    /// Waits up to `limit` for a message to `to` containing `needle` and
    /// returns it; panics naming what did arrive.
    pub async fn wait_for_within(&self, to: &str, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(m) = self.messages_to(to, needle).into_iter().next() {
                return m;
            }
            if Instant::now() > deadline {
                let subjects: Vec<String> = self
                    .messages()
                    .iter()
                    .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")))
                    .map(str::to_owned)
                    .collect();
                panic!(
                    "no mail to {to} containing {needle:?} reached the SMTP server on port {} \
                     within {limit:?}; it received {subjects:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Points `settings` at this server: `mail.transport = "smtp"`, host
    /// 127.0.0.1, this port, no TLS, no login, a short timeout.
    pub fn configure(&self, settings: &mut Settings) {
        settings.mail.transport = guichet::settings::MailTransportKind::Smtp;
        settings.mail.smtp.host = "127.0.0.1".into();
        settings.mail.smtp.port = self.port;
        settings.mail.smtp.tls = guichet::settings::SmtpTlsMode::None;
        settings.mail.smtp.username = String::new();
        settings.mail.smtp.password = String::new();
        settings.mail.smtp.timeout_secs = std::time::Duration::from_secs(5);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts an instance on fresh resources that sends its mail through `sink`.
pub async fn spawn_with_smtp(sink: &SmtpSink) -> TestApp {
    let mut settings = fresh_settings().await;
    sink.configure(&mut settings);
    let mut app = spawn_with(settings).await;
    app.mailbox = sink.dir.clone();
    app
}
