//! `[mail]` and `[mail.smtp]`: how messages leave.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str, word_enum};

/// `[mail]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// Where messages go.
    pub transport: MailTransportKind,
    /// From address.
    pub from: MailFrom,
    /// Attempts before a queued message is marked failed.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 100>")]
    pub max_attempts: u32,
    /// `[mail.smtp]`
    pub smtp: SmtpSection,
}

word_enum! {
    /// `mail.transport`.
    pub enum MailTransportKind {
        /// `.eml` files in `<data_dir>/outbox` (development).
        Outbox = "outbox",
        /// The SMTP server of `[mail.smtp]`.
        Smtp = "smtp",
    }
}

/// The `From:` of every message, a mailbox such as `Guichet <no-reply@example.com>`,
/// kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom(String);

impl MailFrom {
    /// The mailbox as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MailFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<lettre::message::Mailbox>()
            .map(|_| Self(s.to_owned()))
            .map_err(|_| {
                format!("expected a mailbox such as \"Guichet <no-reply@example.com>\", got {s:?}")
            })
    }
}

/// `[mail.smtp]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// Host (required with `mail.transport = "smtp"`, checked with the other keys).
    pub host: String,
    /// Port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTlsMode,
    /// User name; empty for none.
    pub username: String,
    /// Password; never printed.
    pub password: String,
    /// Timeout of one exchange (`timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, { u64::MAX }>")]
    pub timeout_secs: Duration,
}

word_enum! {
    /// `mail.smtp.tls`.
    pub enum SmtpTlsMode {
        /// Required STARTTLS.
        StartTls = "starttls",
        /// Implicit TLS, usually port 465.
        Tls = "tls",
        /// Plain, for a relay on the same host or network only.
        None = "none",
    }
}

impl SmtpTlsMode {
    /// The mode as the mail crate takes it.
    pub fn mode(self) -> mail::SmtpTls {
        match self {
            Self::StartTls => mail::SmtpTls::StartTls,
            Self::Tls => mail::SmtpTls::Tls,
            Self::None => mail::SmtpTls::None,
        }
    }
}

impl std::fmt::Debug for SmtpSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

deserialize_from_str!(MailFrom);
