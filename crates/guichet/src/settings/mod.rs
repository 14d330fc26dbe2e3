//! Configuration: layered loading into typed settings.
//!
//! Each key is read into its type as it is loaded (a duration, an address, a
//! URL, one of a few words, a number within its bounds), so a `Settings`
//! holds no value its key forbids; a refusal names the key, the value given
//! and what was expected. What one key cannot say alone (this requires that,
//! this must not exceed that) is [`Settings::validate`].

pub mod accounts;
mod error;
pub mod limits;
pub mod mail;
pub mod mfa;
pub mod oauth;
pub mod observability;
pub mod operator;
pub(crate) mod parse;
pub mod server;
pub mod storage;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde::Deserialize;

pub use self::accounts::{AccountsSection, EmailCode, LoginSection, PasswordSection};
pub use self::error::ConfigError;
use self::error::bad;
pub use self::limits::{LimitsSection, RateSection};
pub use self::mail::{MailFrom, MailSection, MailTransportKind, SmtpSection, SmtpTlsMode};
pub use self::mfa::{Issuer, MfaSection, SmsSection, SmsTransportKind};
pub use self::oauth::{Audience, EncryptionKey, OAuthSection};
pub use self::observability::{LogFormat, LogLevel, LogSection, TelemetrySection};
pub use self::operator::OperatorSection;
pub use self::server::{HttpUrl, PublicUrl, ServerSection};
pub use self::storage::{DatabaseSection, DatabaseUrl, RedisMode, SessionsSection};

/// The built-in defaults, identical to `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../../config/default.toml");

/// Names the key a loading error is about, as `config` reports it (the path
/// of the field whose value was refused).
fn refused(e: config::ConfigError) -> ConfigError {
    match e {
        config::ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => bad(&key, format!("expected {expected}, got {unexpected}")),
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => bad(&key, error.to_string()),
        config::ConfigError::NotFound(key) => bad(&key, "missing"),
        other => bad("keys", other.to_string()),
    }
}

/// All settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSection,
    /// `[database]`
    pub database: DatabaseSection,
    /// `[sessions]`
    pub sessions: SessionsSection,
    /// `[accounts]`
    pub accounts: AccountsSection,
    /// `[password]`
    pub password: PasswordSection,
    /// `[login]`
    pub login: LoginSection,
    /// `[oauth]`
    pub oauth: OAuthSection,
    /// `[mail]`
    pub mail: MailSection,
    /// `[log]`
    pub log: LogSection,
    /// `[telemetry]`
    pub telemetry: TelemetrySection,
    /// `[operator]`
    pub operator: OperatorSection,
    /// `[mfa]`
    pub mfa: MfaSection,
    /// `[limits]`
    pub limits: LimitsSection,
    /// Whether a file or the environment named `log.level` (rather than the
    /// built-in default): one-shot commands then log at that level, else at
    /// `warn`.
    #[serde(skip)]
    pub log_level_given: bool,
}

/// The layer between the defaults and the environment.
#[derive(Clone, Copy)]
enum FileLayer<'a> {
    None,
    Path(&'a Path),
    Text(&'a str),
}

impl Settings {
    /// The built-in defaults alone.
    pub fn defaults() -> Self {
        Self::from_sources(FileLayer::None, false).expect("the built-in defaults are valid")
    }

    /// Loads defaults, then the file (if any), then `GUICHET__…` variables, and
    /// checks the keys against each other.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(p) = file
            && !p.is_file()
        {
            return Err(bad(
                "--config",
                format!("{} does not exist or is not a file", p.display()),
            ));
        }
        let s = Self::from_sources(file.map_or(FileLayer::None, FileLayer::Path), true)?;
        s.validate()?;
        Ok(s)
    }

    /// Defaults, then `text` as if it were the configuration file (no
    /// environment), checked: what `load` does with a file's contents.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let s = Self::from_sources(FileLayer::Text(text), false)?;
        s.validate()?;
        Ok(s)
    }

    fn from_sources(file: FileLayer<'_>, env: bool) -> Result<Self, ConfigError> {
        use config::{Config, Environment, File, FileFormat};
        // The layers over the defaults, built twice: once to read, once
        // alone to tell which keys they name.
        let layers = |mut b: config::ConfigBuilder<config::builder::DefaultState>| {
            match file {
                FileLayer::None => {}
                FileLayer::Path(p) => {
                    b = b.add_source(File::from(p).format(FileFormat::Toml).required(true));
                }
                FileLayer::Text(t) => b = b.add_source(File::from_str(t, FileFormat::Toml)),
            }
            if env {
                b = b.add_source(
                    Environment::with_prefix("GUICHET")
                        .prefix_separator("__")
                        .separator("__")
                        .try_parsing(true)
                        .list_separator(",")
                        .with_list_parse_key("login.failure_delays_secs")
                        .with_list_parse_key("login.trusted_proxies")
                        .with_list_parse_key("operator.tokens"),
                );
            }
            b
        };
        let defaults = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        let cfg = layers(defaults)
            .build()
            .map_err(|e| bad("sources", e.to_string()))?;
        let mut settings = cfg.try_deserialize::<Settings>().map_err(refused)?;
        settings.log_level_given = layers(Config::builder())
            .build()
            .is_ok_and(|over| over.get_string("log.level").is_ok());
        Ok(settings)
    }

    /// Checks what no key can say alone: one key bounded by another, one
    /// required by another's choice. Every other value was checked as it was
    /// read.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.max_connections_per_ip > server.max_connections {
            return Err(bad(
                "server.max_connections_per_ip",
                format!(
                    "expected at most server.max_connections ({}), got {}",
                    server.max_connections, server.max_connections_per_ip
                ),
            ));
        }
        if server.shutdown_drain_ms > server.shutdown_grace_secs {
            return Err(bad(
                "server.shutdown_drain_ms",
                format!(
                    "expected at most server.shutdown_grace_secs ({} s), got {} ms",
                    server.shutdown_grace_secs.as_secs(),
                    server.shutdown_drain_ms.as_millis()
                ),
            ));
        }
        let db = &self.database;
        if db.min_connections > db.max_connections {
            return Err(bad(
                "database.max_connections",
                format!(
                    "expected at least database.min_connections ({}), got {}",
                    db.min_connections, db.max_connections
                ),
            ));
        }
        if db.url.is_some() && self.oauth.key_encryption_key.is_none() {
            return Err(bad(
                "oauth.key_encryption_key",
                "required when database.url is set (all replicas need the same key); generate one with `guichet keys new-encryption-key`",
            ));
        }
        self.check_redis()?;
        let sessions = &self.sessions;
        if sessions.absolute_timeout_secs < sessions.idle_timeout_secs {
            return Err(bad(
                "sessions.absolute_timeout_secs",
                format!(
                    "expected at least sessions.idle_timeout_secs ({}), got {}",
                    sessions.idle_timeout_secs.as_secs(),
                    sessions.absolute_timeout_secs.as_secs()
                ),
            ));
        }
        if self.mfa.sms.transport == SmsTransportKind::Http && self.mfa.sms.gateway_url.is_none() {
            return Err(bad(
                "mfa.sms.gateway_url",
                "required when mfa.sms.transport = \"http\"",
            ));
        }
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp.host.is_empty() {
            return Err(bad(
                "mail.smtp.host",
                "must not be empty when mail.transport = \"smtp\"",
            ));
        }
        if let Some(op) = self.operator.bind
            && op.port() != 0
            && op == server.bind
        {
            return Err(bad(
                "operator.bind",
                "must differ from server.bind: the operator API never shares the public listener",
            ));
        }
        self.operator.operators()?;
        Ok(())
    }

    /// `sessions.redis_url` against `sessions.redis_mode`: one URL (or none,
    /// for memory) for a server, one or more node URLs for a Cluster, which
    /// cannot be reached over a Unix socket.
    fn check_redis(&self) -> Result<(), ConfigError> {
        let r = &self.sessions.redis_url;
        let cluster = self.sessions.redis_mode == RedisMode::Cluster;
        let is_redis_url = |u: &str| {
            u.starts_with("redis://")
                || u.starts_with("rediss://")
                || (!cluster && (u.starts_with("redis+unix://") || u.starts_with("unix://")))
        };
        if cluster {
            if r.is_empty() || !r.split(',').all(|u| is_redis_url(u.trim())) {
                return Err(bad(
                    "sessions.redis_url",
                    format!(
                        "in cluster mode, expected one or more redis:// node URLs separated by commas, got {:?}",
                        storage_safe(r)
                    ),
                ));
            }
        } else if !(r.is_empty() || is_redis_url(r)) {
            return Err(bad(
                "sessions.redis_url",
                format!(
                    "expected empty or a redis:// or rediss:// URL, got {:?}",
                    storage_safe(r)
                ),
            ));
        }
        Ok(())
    }
}

/// A Redis URL for a message: its password, if any, replaced.
fn storage_safe(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ if u.contains('@') => "(a URL with credentials, not shown)".to_owned(),
        _ => u.to_owned(),
    }
}
