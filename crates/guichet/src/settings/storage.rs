//! `[database]` and `[sessions]`: where accounts and sessions are kept.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str, word_enum};

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// Database URL; `None` (empty) means SQLite in the data directory.
    #[serde(deserialize_with = "parse::optional")]
    pub url: Option<DatabaseUrl>,
    /// Pool maximum (at least `min_connections`, checked with the other keys).
    #[serde(deserialize_with = "parse::within::<_, _, 1, { u32::MAX as u64 }>")]
    pub max_connections: u32,
    /// Pool minimum.
    pub min_connections: u32,
    /// How long start-up keeps trying to connect (`connect_timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, { u64::MAX }>")]
    pub connect_timeout_secs: Duration,
    /// How long a request waits for a pool connection (connecting included)
    /// before it is answered 503 (`acquire_timeout_ms`).
    #[serde(deserialize_with = "parse::millis::<_, 50, 30000>")]
    pub acquire_timeout_ms: Duration,
    /// Migrate at start-up.
    pub run_migrations: bool,
}

/// A database URL whose scheme picks an engine Guichet speaks: `sqlite:` or
/// `postgres://` (`postgresql://`). Printed without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, password included: for connecting only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        !self.0.starts_with("sqlite:")
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("sqlite:")
            || s.starts_with("postgres://")
            || s.starts_with("postgresql://")
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "expected empty, sqlite:…, or postgres://…, got {:?}",
                redacted(s)
            ))
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redacted(&self.0))
    }
}

/// `s` with the password of its URL, if any, replaced.
fn redacted(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_owned(),
    }
}

/// `[sessions]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    /// Redis URL (in cluster mode, seed node URLs separated by commas);
    /// empty means in memory. Its shape depends on `redis_mode`, so it is
    /// checked with the other keys.
    pub redis_url: String,
    /// One server or a Cluster.
    pub redis_mode: RedisMode,
    /// Redis key prefix.
    pub key_prefix: String,
    /// Idle timeout (`idle_timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 60, { u64::MAX }>")]
    pub idle_timeout_secs: Duration,
    /// Absolute timeout (`absolute_timeout_secs`; at least the idle timeout,
    /// checked with the other keys).
    #[serde(deserialize_with = "parse::secs::<_, 0, { u64::MAX }>")]
    pub absolute_timeout_secs: Duration,
    /// Redis response timeout (`redis_timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, { u64::MAX }>")]
    pub redis_timeout_secs: Duration,
}

word_enum! {
    /// `sessions.redis_mode`.
    pub enum RedisMode {
        /// `redis_url` names one server (or a proxy in front of a replicated set).
        Standalone = "standalone",
        /// `redis_url` lists seed nodes of a Redis Cluster.
        Cluster = "cluster",
    }
}

deserialize_from_str!(DatabaseUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_an_engine_and_hide_their_password() {
        assert!("sqlite://x.db".parse::<DatabaseUrl>().is_ok());
        let pg: DatabaseUrl = "postgres://u:pw@db/guichet".parse().unwrap();
        assert!(pg.is_postgres());
        assert!(!format!("{pg:?}").contains("pw"));
        let e = "mysql://u:pw@x/db".parse::<DatabaseUrl>().unwrap_err();
        assert!(e.contains("mysql://") && !e.contains("pw"), "{e}");
    }
}
