//! Configuration: layered loading and validation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The built-in defaults, identical to `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    /// The dotted key, or the source that failed.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        problem: problem.into(),
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
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Listen address.
    pub bind: String,
    /// Public URL; empty derives it from the bound address.
    pub public_url: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Body limit.
    pub max_body_bytes: usize,
    /// Request line plus headers limit.
    pub max_header_bytes: usize,
    /// Fields a urlencoded form may have.
    pub max_form_fields: usize,
    /// Time allowed to send the headers.
    pub header_timeout_secs: u64,
    /// Time allowed for a whole request.
    pub request_timeout_secs: u64,
    /// Grace period on SIGTERM.
    pub shutdown_grace_secs: u64,
    /// How long a kept-alive connection may wait for its next request.
    pub keepalive_timeout_secs: u64,
    /// HTTP/2 ping interval.
    pub h2_keepalive_interval_secs: u64,
    /// HTTP/2 ping answer timeout.
    pub h2_keepalive_timeout_secs: u64,
    /// Connections open at once on a listener.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Listen backlog of both listeners.
    pub listen_backlog: u32,
    /// Time an idle kept-alive connection gets for one last request on SIGTERM.
    pub shutdown_drain_ms: u64,
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// Database URL; empty means SQLite in the data directory.
    pub url: String,
    /// Pool maximum.
    pub max_connections: u32,
    /// Pool minimum.
    pub min_connections: u32,
    /// How long start-up keeps trying to connect.
    pub connect_timeout_secs: u64,
    /// How long a request waits for a pool connection (connecting included)
    /// before it is answered 503, in milliseconds.
    pub acquire_timeout_ms: u64,
    /// Migrate at start-up.
    pub run_migrations: bool,
}

/// `[sessions]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    /// Redis URL (in cluster mode, seed node URLs separated by commas);
    /// empty means in memory.
    pub redis_url: String,
    /// `standalone` or `cluster`.
    pub redis_mode: String,
    /// Redis key prefix.
    pub key_prefix: String,
    /// Idle timeout.
    pub idle_timeout_secs: u64,
    /// Absolute timeout.
    pub absolute_timeout_secs: u64,
    /// Redis response timeout.
    pub redis_timeout_secs: u64,
}

/// `[accounts]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsSection {
    /// Handle suffix.
    pub handle_suffix: String,
}

/// `[password]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSection {
    /// Minimum length.
    pub min_length: usize,
    /// Argon2 memory.
    pub argon2_memory_kib: u32,
    /// Argon2 passes.
    pub argon2_iterations: u32,
    /// Argon2 lanes.
    pub argon2_parallelism: u32,
    /// Concurrent hashes; 0 = cores.
    pub max_concurrent_hashes: usize,
}

/// `[login]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Delays after consecutive failures.
    pub failure_delays_secs: Vec<u64>,
    /// Free failures per IP.
    pub ip_free_failures: u32,
    /// Trusted proxies.
    pub trusted_proxies: Vec<String>,
    /// Seconds an authentication counts as recent for security changes.
    pub recent_auth_secs: u64,
    /// `always`, `risk` or `never`: when a login without two-factor also asks
    /// for a code mailed to the primary address.
    pub email_code: String,
}

/// `[oauth]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSection {
    /// Base64 key sealing the signing keys; never printed.
    pub key_encryption_key: String,
    /// `aud` of access tokens; empty for the issuer.
    pub access_token_audience: String,
    /// Seconds an authorization code can be redeemed.
    pub code_ttl_secs: u64,
}

impl std::fmt::Debug for OAuthSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSection")
            .field("key_encryption_key", &"***")
            .field("access_token_audience", &self.access_token_audience)
            .field("code_ttl_secs", &self.code_ttl_secs)
            .finish()
    }
}

/// `[mail]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// `outbox` or `smtp`.
    pub transport: String,
    /// From address.
    pub from: String,
    /// Attempts before a queued message is marked failed.
    pub max_attempts: u32,
    /// `[mail.smtp]`
    pub smtp: SmtpSection,
}

/// `[mail.smtp]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls: String,
    /// User name; empty for none.
    pub username: String,
    /// Password; never printed.
    pub password: String,
    /// Timeout.
    pub timeout_secs: u64,
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

/// `[mfa]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSection {
    /// The name authenticator apps show beside the code.
    pub issuer: String,
    /// `[mfa.sms]`
    pub sms: SmsSection,
}

/// `[mfa.sms]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// `outbox` or `http`.
    pub transport: String,
    /// The gateway's URL, for `http`.
    pub gateway_url: String,
    /// Bearer token for the gateway; never printed.
    pub gateway_token: String,
    /// Timeout of one gateway request.
    pub timeout_secs: u64,
}

impl std::fmt::Debug for SmsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSection")
            .field("transport", &self.transport)
            .field("gateway_url", &self.gateway_url)
            .field("gateway_token", &"***")
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// `[limits]`: requests per client address and per target, each a
/// [`RateSection`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Sign-ups from one client address.
    pub signup_per_ip: RateSection,
    /// Sign-ups naming one primary email.
    pub signup_per_email: RateSection,
    /// Forgotten-handle requests from one client address.
    pub forgot_handle_per_ip: RateSection,
    /// Forgotten-handle requests naming one email.
    pub forgot_handle_per_email: RateSection,
    /// Contact requests from one client address.
    pub contact_requests_per_ip: RateSection,
    /// Contact requests naming one customer handle.
    pub contact_requests_per_handle: RateSection,
}

/// At most `count` requests per `window_secs` seconds.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSection {
    /// Requests allowed per window.
    pub count: u32,
    /// The window's length, in seconds.
    pub window_secs: u64,
}

impl LimitsSection {
    fn each(&self) -> [(&'static str, RateSection); 6] {
        [
            ("signup_per_ip", self.signup_per_ip),
            ("signup_per_email", self.signup_per_email),
            ("forgot_handle_per_ip", self.forgot_handle_per_ip),
            ("forgot_handle_per_email", self.forgot_handle_per_email),
            ("contact_requests_per_ip", self.contact_requests_per_ip),
            (
                "contact_requests_per_handle",
                self.contact_requests_per_handle,
            ),
        ]
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, r) in self.each() {
            if !(1..=1_000_000).contains(&r.count) {
                return Err(bad(
                    &format!("limits.{name}.count"),
                    "must be between 1 and 1000000",
                ));
            }
            if !(1..=604_800).contains(&r.window_secs) {
                return Err(bad(
                    &format!("limits.{name}.window_secs"),
                    "must be between 1 and 604800 (a week)",
                ));
            }
        }
        Ok(())
    }

    /// The limits as the server takes them.
    pub fn rates(&self) -> server::limits::RateLimits {
        let r = |s: RateSection| server::limits::Rate::per(s.count, s.window_secs);
        server::limits::RateLimits {
            signup_per_ip: r(self.signup_per_ip),
            signup_per_email: r(self.signup_per_email),
            forgot_handle_per_ip: r(self.forgot_handle_per_ip),
            forgot_handle_per_email: r(self.forgot_handle_per_email),
            contact_requests_per_ip: r(self.contact_requests_per_ip),
            contact_requests_per_handle: r(self.contact_requests_per_handle),
        }
    }
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// Filter.
    pub level: String,
}

/// `[telemetry]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); empty
    /// sends no traces.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of requests traced, 0.0 to 1.0 (a caller's sampled parent wins).
    pub sample_ratio: f64,
}

/// `[operator]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// Listen address of the operator API; empty turns it off.
    pub bind: String,
    /// `name:secret` entries; the secrets are never printed.
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for OperatorSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .tokens
            .iter()
            .map(|t| match t.split_once(':') {
                Some((name, _)) => format!("{name}:***"),
                None => "***".to_owned(),
            })
            .collect();
        f.debug_struct("OperatorSection")
            .field("bind", &self.bind)
            .field("tokens", &names)
            .finish()
    }
}

impl OperatorSection {
    /// Whether the operator API has a listener.
    pub fn is_enabled(&self) -> bool {
        !self.bind.is_empty()
    }

    /// The operators the tokens name, checked: well-formed entries, long
    /// secrets, no name or secret twice. Blank entries (an empty environment
    /// variable) are skipped. Errors name the entry by position and name, never
    /// by its secret.
    pub fn operators(&self) -> Result<Vec<server::admin::Operator>, ConfigError> {
        let mut operators: Vec<server::admin::Operator> = Vec::new();
        for (i, entry) in self.tokens.iter().enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            let at = format!("operator.tokens[{i}]");
            let op = server::admin::Operator::parse(entry).map_err(|e| bad(&at, e))?;
            if operators.iter().any(|o| o.name() == op.name()) {
                return Err(bad(&at, format!("the name {:?} is used twice", op.name())));
            }
            if operators.iter().any(|o| o.same_secret(&op)) {
                return Err(bad(
                    &at,
                    format!(
                        "{:?} has the same secret as another operator; give each its own",
                        op.name()
                    ),
                ));
            }
            operators.push(op);
        }
        Ok(operators)
    }
}

impl Settings {
    /// The built-in defaults alone.
    pub fn defaults() -> Self {
        Self::from_sources(None, false).expect("the built-in defaults are valid")
    }

    /// Loads defaults, then the file (if any), then `GUICHET__…` variables, and
    /// validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let s = Self::from_sources(file, true)?;
        s.validate()?;
        Ok(s)
    }

    /// Defaults, then `text` as if it were the configuration file (no
    /// environment), validated: what `load` does with a file's contents.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        use config::{Config, File, FileFormat};
        let cfg = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from_str(text, FileFormat::Toml))
            .build()
            .map_err(|e| bad("sources", e.to_string()))?;
        let s = cfg
            .try_deserialize::<Settings>()
            .map_err(|e| bad("keys", e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    fn from_sources(file: Option<&Path>, env: bool) -> Result<Self, ConfigError> {
        use config::{Config, Environment, File, FileFormat};
        let mut b = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(p) = file {
            if !p.is_file() {
                return Err(bad(
                    "--config",
                    format!("{} does not exist or is not a file", p.display()),
                ));
            }
            b = b.add_source(File::from(p).format(FileFormat::Toml).required(true));
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
        let cfg = b.build().map_err(|e| bad("sources", e.to_string()))?;
        cfg.try_deserialize::<Settings>()
            .map_err(|e| bad("keys", e.to_string()))
    }

    /// Checks every value a type alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.bind.parse::<SocketAddr>().map_err(|_| {
            bad(
                "server.bind",
                format!("must be ip:port, got {:?}", self.server.bind),
            )
        })?;
        if !self.server.public_url.is_empty() {
            let u = url::Url::parse(&self.server.public_url).map_err(|e| {
                bad(
                    "server.public_url",
                    format!("{e}: {:?}", self.server.public_url),
                )
            })?;
            if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                return Err(bad(
                    "server.public_url",
                    "must be an absolute http or https URL",
                ));
            }
            if u.query().is_some() || u.fragment().is_some() {
                return Err(bad(
                    "server.public_url",
                    "must not have a query or fragment",
                ));
            }
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            return Err(bad(
                "server.max_body_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        // hyper's read buffer cannot be smaller than 8 KiB; beyond 1 MiB one
        // connection could hold more memory than the body limit intends.
        if !(8192..=1024 * 1024).contains(&self.server.max_header_bytes) {
            return Err(bad(
                "server.max_header_bytes",
                "must be between 8192 and 1048576",
            ));
        }
        if !(1..=100_000).contains(&self.server.max_form_fields) {
            return Err(bad(
                "server.max_form_fields",
                "must be between 1 and 100000",
            ));
        }
        if !(1..=600).contains(&self.server.header_timeout_secs) {
            return Err(bad(
                "server.header_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if !(1..=600).contains(&self.server.request_timeout_secs) {
            return Err(bad(
                "server.request_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if !(1..=3600).contains(&self.server.keepalive_timeout_secs) {
            return Err(bad(
                "server.keepalive_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=3600).contains(&self.server.h2_keepalive_interval_secs) {
            return Err(bad(
                "server.h2_keepalive_interval_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(1..=600).contains(&self.server.h2_keepalive_timeout_secs) {
            return Err(bad(
                "server.h2_keepalive_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return Err(bad(
                "server.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if self.server.max_connections_per_ip == 0
            || self.server.max_connections_per_ip > self.server.max_connections
        {
            return Err(bad(
                "server.max_connections_per_ip",
                "must be at least 1 and at most server.max_connections",
            ));
        }
        if !(1..=65_535).contains(&self.server.listen_backlog) {
            return Err(bad("server.listen_backlog", "must be between 1 and 65535"));
        }
        if self.server.shutdown_drain_ms > 60_000
            || self.server.shutdown_drain_ms > self.server.shutdown_grace_secs * 1000
        {
            return Err(bad(
                "server.shutdown_drain_ms",
                "must be at most 60000 and at most server.shutdown_grace_secs",
            ));
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return Err(bad("server.data_dir", "must not be empty"));
        }
        let db = &self.database.url;
        if !(db.is_empty()
            || db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(bad(
                "database.url",
                "must be empty, sqlite:…, or postgres://…",
            ));
        }
        if self.database.max_connections == 0
            || self.database.min_connections > self.database.max_connections
        {
            return Err(bad(
                "database.max_connections",
                "must be at least 1 and at least database.min_connections",
            ));
        }
        if self.database.connect_timeout_secs == 0 {
            return Err(bad("database.connect_timeout_secs", "must be at least 1"));
        }
        if !(50..=30_000).contains(&self.database.acquire_timeout_ms) {
            return Err(bad(
                "database.acquire_timeout_ms",
                "must be between 50 and 30000",
            ));
        }
        let r = &self.sessions.redis_url;
        let cluster = match self.sessions.redis_mode.as_str() {
            "standalone" => false,
            "cluster" => true,
            other => {
                return Err(bad(
                    "sessions.redis_mode",
                    format!("must be standalone or cluster, got {other:?}"),
                ));
            }
        };
        let is_redis_url = |u: &str| {
            u.starts_with("redis://")
                || u.starts_with("rediss://")
                || (!cluster && (u.starts_with("redis+unix://") || u.starts_with("unix://")))
        };
        if cluster {
            if r.is_empty() || !r.split(',').all(|u| is_redis_url(u.trim())) {
                return Err(bad(
                    "sessions.redis_url",
                    "in cluster mode, must list one or more redis:// node URLs separated by commas",
                ));
            }
        } else if !(r.is_empty() || is_redis_url(r)) {
            return Err(bad(
                "sessions.redis_url",
                "must be empty or a redis:// or rediss:// URL",
            ));
        }
        if self.sessions.idle_timeout_secs < 60 {
            return Err(bad("sessions.idle_timeout_secs", "must be at least 60"));
        }
        if self.sessions.absolute_timeout_secs < self.sessions.idle_timeout_secs {
            return Err(bad(
                "sessions.absolute_timeout_secs",
                "must be at least sessions.idle_timeout_secs",
            ));
        }
        if self.sessions.redis_timeout_secs == 0 {
            return Err(bad("sessions.redis_timeout_secs", "must be at least 1"));
        }
        accounts::HandleSuffix::parse(&self.accounts.handle_suffix)
            .map_err(|e| bad("accounts.handle_suffix", e))?;
        let p = &self.password;
        if !(8..=128).contains(&p.min_length) {
            return Err(bad("password.min_length", "must be between 8 and 128"));
        }
        if p.argon2_memory_kib < 19_456 {
            return Err(bad(
                "password.argon2_memory_kib",
                "must be at least 19456 (OWASP minimum)",
            ));
        }
        if p.argon2_iterations < 2 {
            return Err(bad(
                "password.argon2_iterations",
                "must be at least 2 (OWASP minimum)",
            ));
        }
        if p.argon2_parallelism == 0 || p.argon2_parallelism > 16 {
            return Err(bad(
                "password.argon2_parallelism",
                "must be between 1 and 16",
            ));
        }
        if self.login.failure_delays_secs.is_empty()
            || self.login.failure_delays_secs.iter().any(|d| *d > 86_400)
        {
            return Err(bad(
                "login.failure_delays_secs",
                "must list at least one delay, each at most 86400",
            ));
        }
        for ip in &self.login.trusted_proxies {
            if server::config::IpNet::parse(ip).is_none() {
                return Err(bad(
                    "login.trusted_proxies",
                    format!("{ip:?} is not an IP address or a range such as 10.42.0.0/16"),
                ));
            }
        }
        if self.oauth.key_encryption_key.is_empty() {
            if !self.database.url.is_empty() {
                return Err(bad(
                    "oauth.key_encryption_key",
                    "required when database.url is set (all replicas need the same key); generate one with `guichet keys new-encryption-key`",
                ));
            }
        } else {
            oauth::KeyEncryptor::from_base64(&self.oauth.key_encryption_key)
                .map_err(|e| bad("oauth.key_encryption_key", e.to_string()))?;
        }
        if !self.oauth.access_token_audience.is_empty()
            && url::Url::parse(&self.oauth.access_token_audience).is_err()
        {
            return Err(bad(
                "oauth.access_token_audience",
                "must be empty or an absolute URI",
            ));
        }
        if !(1..=600).contains(&self.oauth.code_ttl_secs) {
            return Err(bad(
                "oauth.code_ttl_secs",
                "must be between 1 and 600 (RFC 6749 §4.1.2: ten minutes at most)",
            ));
        }
        if !(1..=3600).contains(&self.login.recent_auth_secs) {
            return Err(bad("login.recent_auth_secs", "must be between 1 and 3600"));
        }
        if server::config::EmailCodePolicy::parse(&self.login.email_code).is_none() {
            return Err(bad(
                "login.email_code",
                "must be \"always\", \"risk\" or \"never\"",
            ));
        }
        self.limits.validate()?;
        let issuer = self.mfa.issuer.trim();
        if issuer.is_empty() || issuer.len() > 64 || issuer.contains(':') {
            return Err(bad(
                "mfa.issuer",
                "must be 1 to 64 characters, without ':' (authenticator apps split on it)",
            ));
        }
        match self.mfa.sms.transport.as_str() {
            "outbox" => {}
            "http" => {
                let u = url::Url::parse(&self.mfa.sms.gateway_url).map_err(|e| {
                    bad(
                        "mfa.sms.gateway_url",
                        format!(
                            "{e}: {:?} (required when mfa.sms.transport = \"http\")",
                            self.mfa.sms.gateway_url
                        ),
                    )
                })?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(bad("mfa.sms.gateway_url", "must be an http or https URL"));
                }
                if self.mfa.sms.timeout_secs == 0 {
                    return Err(bad("mfa.sms.timeout_secs", "must be at least 1"));
                }
            }
            other => {
                return Err(bad(
                    "mfa.sms.transport",
                    format!("must be \"outbox\" or \"http\", got {other:?}"),
                ));
            }
        }
        if !(1..=100).contains(&self.mail.max_attempts) {
            return Err(bad("mail.max_attempts", "must be between 1 and 100"));
        }
        match self.mail.transport.as_str() {
            "outbox" => {}
            "smtp" => {
                if self.mail.smtp.host.is_empty() {
                    return Err(bad(
                        "mail.smtp.host",
                        "must not be empty when mail.transport = \"smtp\"",
                    ));
                }
                if !matches!(self.mail.smtp.tls.as_str(), "starttls" | "tls" | "none") {
                    return Err(bad(
                        "mail.smtp.tls",
                        "must be \"starttls\", \"tls\" or \"none\"",
                    ));
                }
                if self.mail.smtp.timeout_secs == 0 {
                    return Err(bad("mail.smtp.timeout_secs", "must be at least 1"));
                }
            }
            other => {
                return Err(bad(
                    "mail.transport",
                    format!("must be \"outbox\" or \"smtp\", got {other:?}"),
                ));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(bad("log.format", "must be \"text\" or \"json\""));
        }
        let t = &self.telemetry;
        if !t.otlp_endpoint.is_empty() {
            let u = url::Url::parse(&t.otlp_endpoint).map_err(|e| {
                bad(
                    "telemetry.otlp_endpoint",
                    format!("{e}: {:?}", t.otlp_endpoint),
                )
            })?;
            if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                return Err(bad(
                    "telemetry.otlp_endpoint",
                    "must be empty or an http(s) URL such as http://collector:4318",
                ));
            }
        }
        if t.service_name.trim().is_empty() || t.service_name.len() > 100 {
            return Err(bad("telemetry.service_name", "must be 1 to 100 characters"));
        }
        if !(0.0..=1.0).contains(&t.sample_ratio) {
            return Err(bad("telemetry.sample_ratio", "must be between 0.0 and 1.0"));
        }
        if self.operator.is_enabled() {
            let addr = self.operator.bind.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "operator.bind",
                    format!("must be empty or ip:port, got {:?}", self.operator.bind),
                )
            })?;
            if addr.port() != 0 && self.server.bind.parse::<SocketAddr>().ok() == Some(addr) {
                return Err(bad(
                    "operator.bind",
                    "must differ from server.bind: the operator API never shares the public listener",
                ));
            }
        }
        self.operator.operators()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::defaults().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let mut s = Settings::defaults();
        s.server.public_url = "ftp://x".into();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("server.public_url")
        );
        let mut s = Settings::defaults();
        s.password.argon2_memory_kib = 1024;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("password.argon2_memory_kib")
        );
        let mut s = Settings::defaults();
        s.login.trusted_proxies = vec!["proxy.local".into()];
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("login.trusted_proxies")
        );
        let mut s = Settings::defaults();
        s.mail.max_attempts = 0;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("mail.max_attempts")
        );
        let mut s = Settings::defaults();
        s.database.url = "mysql://x".into();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("database.url")
        );
    }

    #[test]
    fn request_limits_are_bounded() {
        type Bend = fn(&mut Settings);
        let cases: [(Bend, &str); 4] = [
            (
                |s| s.server.max_header_bytes = 4096,
                "server.max_header_bytes",
            ),
            (|s| s.server.max_form_fields = 0, "server.max_form_fields"),
            (
                |s| s.server.header_timeout_secs = 0,
                "server.header_timeout_secs",
            ),
            (
                |s| s.server.request_timeout_secs = 0,
                "server.request_timeout_secs",
            ),
        ];
        for (bend, key) in cases {
            let mut s = Settings::defaults();
            bend(&mut s);
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn operator_tokens_are_checked_and_never_printed() {
        let secret = "s3cret-0123456789-abcdefghijklmnop";
        let mut s = Settings::defaults();
        assert!(s.operator.is_enabled());
        assert!(s.operator.tokens.is_empty());
        s.operator.tokens = vec![format!("alice:{secret}"), String::new()];
        s.validate().unwrap();
        assert_eq!(s.operator.operators().unwrap().len(), 1);
        let printed = format!("{s:?}");
        assert!(printed.contains("alice:***"), "{printed}");
        assert!(!printed.contains(secret), "{printed}");

        for (tokens, problem) in [
            (vec![secret.to_owned()], "name:secret"),
            (vec!["alice:too-short".to_owned()], "at least 32"),
            (vec![format!("al ice:{secret}")], "name"),
            (
                vec![format!("alice:{secret}"), format!("alice:{secret}-2")],
                "twice",
            ),
            (
                vec![format!("alice:{secret}"), format!("bob:{secret}")],
                "same secret",
            ),
        ] {
            let mut s = Settings::defaults();
            s.operator.tokens = tokens;
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("operator.tokens"), "{e}");
            assert!(e.contains(problem), "{e}");
            assert!(!e.contains(secret) && !e.contains("too-short"), "{e}");
        }

        let mut s = Settings::defaults();
        s.operator.bind = "localhost".into();
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("operator.bind"), "{e}");
        let mut s = Settings::defaults();
        s.operator.bind = s.server.bind.clone();
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("operator.bind"), "{e}");
        let mut s = Settings::defaults();
        s.operator.bind = String::new();
        s.validate().unwrap();
        assert!(!s.operator.is_enabled());
    }

    #[test]
    fn code_lifetime_is_one_second_to_ten_minutes() {
        for (secs, ok) in [(0, false), (1, true), (60, true), (600, true), (601, false)] {
            let mut s = Settings::defaults();
            s.oauth.code_ttl_secs = secs;
            match s.validate() {
                Ok(()) => assert!(ok, "{secs} s accepted"),
                Err(e) => {
                    assert!(!ok, "{secs} s refused: {e}");
                    assert!(e.to_string().contains("oauth.code_ttl_secs"), "{e}");
                }
            }
        }
        assert_eq!(Settings::defaults().oauth.code_ttl_secs, 60);
    }

    #[test]
    fn request_limits_are_checked_and_named() {
        let s = Settings::defaults();
        assert_eq!(s.limits.rates(), server::limits::RateLimits::default());
        let mut s = Settings::defaults();
        s.limits.signup_per_ip.count = 0;
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("limits.signup_per_ip.count"), "{e}");
        let mut s = Settings::defaults();
        s.limits.contact_requests_per_handle.window_secs = 0;
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("limits.contact_requests_per_handle.window_secs"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("guichet-lim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("limits.toml");
        std::fs::write(
            &f,
            "[limits]\nforgot_handle_per_email = { count = 2, window_secs = 60 }\n",
        )
        .unwrap();
        let s = Settings::load(Some(&f)).unwrap();
        assert_eq!(
            s.limits.rates().forgot_handle_per_email,
            server::limits::Rate::per(2, 60)
        );
        assert_eq!(
            s.limits.signup_per_ip.count, 20,
            "the other keys keep their defaults"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("guichet-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "[server]\nbnid = \"x\"\n").unwrap();
        let e = Settings::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("bnid"), "{e}");
    }

    #[test]
    fn the_production_example_is_valid() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/production.example.toml");
        let s = Settings::load(Some(&f)).unwrap();
        assert_eq!(s.server.public_url, "https://login.example.com");
        assert_eq!(s.mail.transport, "smtp");
    }
}
