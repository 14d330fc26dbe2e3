//! Outgoing mail for Guichet.
//!
//! The rest of the server talks to a [`MailTransport`] and never to lettre
//! directly, so that production (SMTP) and development (an outbox directory of
//! `.eml` files) are interchangeable and tests can plug in their own transport.
//! Messages reach the transport through [`MailQueue`], a queue in the database
//! with retries, so that a mail server that is down loses nothing.

use std::future::Future;
use std::pin::Pin;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

mod outbox;
mod queue;
mod smtp;

pub use outbox::OutboxTransport;
pub use queue::{Clock, MailQueue, MailState, QueueSettings, QueueSummary, QueuedMail, backoff};
pub use smtp::{SmtpSettings, SmtpTls, SmtpTransport};

/// A message ready to send: one recipient, a subject, a plain-text body and an HTML body.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    /// The recipient, as a bare address (`alice@example.org`) or a mailbox (`Alice <alice@example.org>`).
    pub to: String,
    /// The subject line; any character is allowed, lettre encodes it safely.
    pub subject: String,
    /// The plain-text alternative.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The sender or recipient is not a valid mailbox.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// The message could not be built or the SMTP exchange failed (including time-outs).
    #[error("mail transport failed: {0}")]
    Transport(String),
    /// The outbox directory could not be created or written.
    #[error("outbox I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// No queued message has this id.
    #[error("no such message")]
    NotFound,
    /// Only a failed message can be retried; this one is in the given state.
    #[error("the message is {}, not failed", .0.as_str())]
    NotRetryable(MailState),
    /// The queue's database failed.
    #[error("mail queue database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// Where mail goes.
pub trait MailTransport: Send + Sync + 'static {
    /// Sends one message; resolves once the transport has accepted it.
    fn send(
        &self,
        mail: OutgoingMail,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + '_>>;
}

/// Parses a configured or requested mailbox, mapping any failure to
/// [`MailError::InvalidAddress`] carrying the offending input.
fn parse_mailbox(input: &str) -> Result<Mailbox, MailError> {
    input
        .parse::<Mailbox>()
        .map_err(|_| MailError::InvalidAddress(input.to_owned()))
}

/// Builds the RFC 5322 message shared by every transport, so SMTP and the
/// outbox deliver byte-for-byte the same kind of message.
fn build_message(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, MailError> {
    let to = parse_mailbox(&mail.to)?;
    // The Message-ID uses the sender's domain rather than lettre's default
    // (the machine's hostname), which would leak internal host names.
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.as_str())
        .date_now()
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Transport(format!("could not build message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OutgoingMail {
        OutgoingMail {
            to: "alice@example.org".into(),
            subject: "Your code".into(),
            text: "Code: 123456".into(),
            html: "<p>Code: <b>123456</b></p>".into(),
        }
    }

    #[test]
    fn message_has_required_headers_and_both_parts() {
        let from = parse_mailbox("Guichet <no-reply@localhost>").unwrap();
        let raw = String::from_utf8(build_message(&from, &sample()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: Guichet <no-reply@localhost>\r\n"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.org\r\n"), "{raw}");
        assert!(raw.contains("Subject: Your code\r\n"), "{raw}");
        assert!(raw.contains("\r\nDate: "), "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("@localhost>\r\n"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
    }

    #[test]
    fn subject_cannot_inject_headers() {
        let from = parse_mailbox("no-reply@localhost").unwrap();
        let mail = OutgoingMail {
            subject: "Hi\r\nBcc: evil@example.com".into(),
            ..sample()
        };
        let raw = String::from_utf8(build_message(&from, &mail).unwrap().formatted()).unwrap();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for bad in [
            "not an address",
            "a@example.org, b@example.org",
            "a@example.org\r\nBcc: b@example.org",
            "",
        ] {
            match parse_mailbox(bad) {
                Err(MailError::InvalidAddress(s)) => assert_eq!(s, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
