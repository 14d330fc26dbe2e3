//! Development transport: every message becomes an `.eml` file in a directory.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use lettre::message::Mailbox;

use crate::{MailError, MailTransport, OutgoingMail, build_message, parse_mailbox};

/// Writes each message as an RFC 5322 `.eml` file in a directory instead of
/// sending it, so a developer (or a test) can read verification codes without
/// a mail server.
#[derive(Debug)]
pub struct OutboxTransport {
    from: Mailbox,
    dir: PathBuf,
}

impl OutboxTransport {
    /// Creates the transport, creating `dir` (and its parents) if needed.
    ///
    /// `from` is the sender mailbox, e.g. `Guichet <no-reply@localhost>`.
    pub fn new(from: &str, dir: PathBuf) -> Result<Self, MailError> {
        let from = parse_mailbox(from)?;
        std::fs::create_dir_all(&dir)?;
        Ok(Self { from, dir })
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn write(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, &mail)?;
        // The timestamp makes `ls` show messages in order; the UUID keeps
        // names unique when several messages land in the same microsecond.
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
            uuid::Uuid::new_v4()
        );
        let path = self.dir.join(&name);
        // Written under a hidden, non-.eml name and renamed into place:
        // rename is atomic within a directory, so anyone watching for
        // `*.eml` never reads a half-written message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        if let Err(e) = tokio::fs::write(&tmp, message.formatted()).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        // Never log the body: it carries verification codes and links.
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            path = %path.display(),
            "mail written to outbox"
        );
        Ok(())
    }
}

impl MailTransport for OutboxTransport {
    fn send(
        &self,
        mail: OutgoingMail,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + '_>> {
        Box::pin(self.write(mail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("guichet-mail-test-{}", uuid::Uuid::new_v4())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    fn sample() -> OutgoingMail {
        OutgoingMail {
            to: "alice@example.org".into(),
            subject: "Verify your address".into(),
            text: "Your code is 314159.".into(),
            html: "<p>Your code is <strong>314159</strong>.</p>".into(),
        }
    }

    #[tokio::test]
    async fn writes_one_parseable_eml_per_message() {
        let tmp = TempDir::new();
        let dir = tmp.0.join("nested/outbox");
        let outbox = OutboxTransport::new("Guichet <no-reply@localhost>", dir.clone()).unwrap();
        assert!(dir.is_dir(), "new() creates the directory");
        assert_eq!(outbox.dir(), dir);

        outbox.send(sample()).await.unwrap();

        let files = entries(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_str().unwrap();
        // <YYYYMMDDTHHMMSS.ffffff>-<uuid>.eml
        assert!(name.ends_with(".eml"), "{name}");
        let (stamp, rest) = name.split_at(22);
        assert!(
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.6f").is_ok(),
            "{stamp}"
        );
        let uuid = rest
            .strip_prefix('-')
            .and_then(|r| r.strip_suffix(".eml"))
            .unwrap();
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);

        let raw = std::fs::read_to_string(&files[0]).unwrap();
        // Headers and body are separated by the first empty line.
        let (headers, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
        assert!(
            headers.contains("From: Guichet <no-reply@localhost>"),
            "{raw}"
        );
        assert!(headers.contains("To: alice@example.org"), "{raw}");
        assert!(headers.contains("Subject: Verify your address"), "{raw}");
        assert!(headers.contains("Date: "), "{raw}");
        assert!(headers.contains("Message-ID: <"), "{raw}");
        assert!(
            headers.contains("Content-Type: multipart/alternative"),
            "{raw}"
        );
        assert!(
            body.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            body.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert!(body.contains("Your code is 314159."), "{raw}");
        assert!(
            body.contains("<p>Your code is <strong>314159</strong>.</p>"),
            "{raw}"
        );
        // Plain text comes first: clients show the last alternative they support.
        assert!(body.find("text/plain").unwrap() < body.find("text/html").unwrap());

        outbox.send(sample()).await.unwrap();
        assert_eq!(entries(&dir).len(), 2, "each message gets its own file");
        assert!(
            entries(&dir)
                .iter()
                .all(|p| p.extension().is_some_and(|e| e == "eml")),
            "no temporary file is left behind"
        );
    }

    #[tokio::test]
    async fn invalid_recipient_writes_nothing() {
        let tmp = TempDir::new();
        let outbox = OutboxTransport::new("no-reply@localhost", tmp.0.clone()).unwrap();
        let mail = OutgoingMail {
            to: "not an address".into(),
            ..sample()
        };
        match outbox.send(mail).await {
            Err(MailError::InvalidAddress(a)) => assert_eq!(a, "not an address"),
            other => panic!("expected InvalidAddress, got {other:?}"),
        }
        assert!(entries(&tmp.0).is_empty());
    }

    #[test]
    fn invalid_sender_is_rejected() {
        let tmp = TempDir::new();
        assert!(matches!(
            OutboxTransport::new("Guichet <nope>", tmp.0.clone()),
            Err(MailError::InvalidAddress(_))
        ));
    }

    #[test]
    fn uncreatable_directory_is_an_io_error() {
        let tmp = TempDir::new();
        std::fs::create_dir_all(&tmp.0).unwrap();
        let file = tmp.0.join("a-file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            OutboxTransport::new("no-reply@localhost", file.join("outbox")),
            Err(MailError::Io(_))
        ));
    }
}
