//! `[accounts]`, `[password]` and `[login]`: who customers are and how they
//! sign in.

use std::time::Duration;

use app::config::{EmailCodePolicy, IpNet};
use serde::de::{Deserialize, Deserializer, Error};

use super::parse::{self, word_enum};

/// `[accounts]`
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsSection {
    /// Handle suffix.
    #[serde(deserialize_with = "handle_suffix")]
    pub handle_suffix: accounts::HandleSuffix,
}

fn handle_suffix<'de, D: Deserializer<'de>>(d: D) -> Result<accounts::HandleSuffix, D::Error> {
    let s = String::deserialize(d)?;
    accounts::HandleSuffix::parse(&s).map_err(D::Error::custom)
}

/// `[password]`. The Argon2 floors are OWASP's minimum.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSection {
    /// Minimum length.
    #[serde(deserialize_with = "parse::within::<_, _, 8, 128>")]
    pub min_length: usize,
    /// Argon2 memory.
    #[serde(deserialize_with = "parse::within::<_, _, 19456, { u32::MAX as u64 }>")]
    pub argon2_memory_kib: u32,
    /// Argon2 passes.
    #[serde(deserialize_with = "parse::within::<_, _, 2, { u32::MAX as u64 }>")]
    pub argon2_iterations: u32,
    /// Argon2 lanes.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 16>")]
    pub argon2_parallelism: u32,
    /// Concurrent hashes; 0 = cores.
    pub max_concurrent_hashes: usize,
}

/// `[login]`
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Delays after consecutive failures (`failure_delays_secs`).
    #[serde(deserialize_with = "failure_delays")]
    pub failure_delays_secs: Vec<Duration>,
    /// Free failures per IP.
    pub ip_free_failures: u32,
    /// Trusted proxies: addresses or ranges.
    #[serde(deserialize_with = "proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// How long an authentication counts as recent for security changes
    /// (`recent_auth_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, 3600>")]
    pub recent_auth_secs: Duration,
    /// When a login without two-factor also asks for a code mailed to the
    /// primary address.
    pub email_code: EmailCode,
}

/// The longest delay after a failed login: a day.
const MAX_DELAY_SECS: u64 = 86_400;

fn failure_delays<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let secs = Vec::<u64>::deserialize(d)?;
    if secs.is_empty() || secs.iter().any(|s| *s > MAX_DELAY_SECS) {
        return Err(D::Error::custom(format!(
            "expected a list of at least one delay, each at most {MAX_DELAY_SECS}, got {secs:?}"
        )));
    }
    Ok(secs.into_iter().map(Duration::from_secs).collect())
}

fn proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let all = Vec::<String>::deserialize(d)?;
    all.iter()
        .map(|s| {
            IpNet::parse(s).ok_or_else(|| {
                D::Error::custom(format!(
                    "expected IP addresses or ranges such as 10.42.0.0/16, got {s:?}"
                ))
            })
        })
        .collect()
}

word_enum! {
    /// `login.email_code`: when a login without two-factor also asks for a
    /// code mailed to the primary address.
    pub enum EmailCode {
        /// At every login.
        Always = "always",
        /// From a new device, after failures, or while the address is unconfirmed.
        Risk = "risk",
        /// Never.
        Never = "never",
    }
}

impl EmailCode {
    /// The policy as the server takes it.
    pub fn policy(self) -> EmailCodePolicy {
        match self {
            Self::Always => EmailCodePolicy::Always,
            Self::Risk => EmailCodePolicy::Risk,
            Self::Never => EmailCodePolicy::Never,
        }
    }
}
