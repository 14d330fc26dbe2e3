//! `[server]`: the public listener, its limits, and where data lives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str};

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Listen address.
    #[serde(deserialize_with = "parse::address")]
    pub bind: SocketAddr,
    /// Public URL; `None` (empty) derives it from the bound address.
    #[serde(deserialize_with = "parse::optional")]
    pub public_url: Option<PublicUrl>,
    /// Data directory.
    #[serde(deserialize_with = "parse::non_empty_path")]
    pub data_dir: PathBuf,
    /// Body limit.
    #[serde(deserialize_with = "parse::within::<_, _, 1024, 67108864>")]
    pub max_body_bytes: usize,
    /// Request line plus headers limit. hyper's read buffer cannot be smaller
    /// than 8 KiB; beyond 1 MiB one connection could hold more memory than the
    /// body limit intends.
    #[serde(deserialize_with = "parse::within::<_, _, 8192, 1048576>")]
    pub max_header_bytes: usize,
    /// Fields a urlencoded form may have.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 100000>")]
    pub max_form_fields: usize,
    /// Time allowed to send the headers (`header_timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, 600>")]
    pub header_timeout_secs: Duration,
    /// Time allowed for a whole request (`request_timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, 600>")]
    pub request_timeout_secs: Duration,
    /// Grace period on SIGTERM (`shutdown_grace_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 0, { u64::MAX }>")]
    pub shutdown_grace_secs: Duration,
    /// How long a kept-alive connection may wait for its next request.
    #[serde(deserialize_with = "parse::secs::<_, 1, 3600>")]
    pub keepalive_timeout_secs: Duration,
    /// HTTP/2 ping interval.
    #[serde(deserialize_with = "parse::secs::<_, 1, 3600>")]
    pub h2_keepalive_interval_secs: Duration,
    /// HTTP/2 ping answer timeout.
    #[serde(deserialize_with = "parse::secs::<_, 1, 600>")]
    pub h2_keepalive_timeout_secs: Duration,
    /// Connections open at once on a listener.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 1000000>")]
    pub max_connections: usize,
    /// Connections open at once from one client address (at most
    /// `max_connections`, checked with the other keys).
    #[serde(deserialize_with = "parse::within::<_, _, 1, { u64::MAX }>")]
    pub max_connections_per_ip: usize,
    /// Listen backlog of both listeners.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 65535>")]
    pub listen_backlog: u32,
    /// Time an idle kept-alive connection gets for one last request on SIGTERM
    /// (at most `shutdown_grace_secs`, checked with the other keys).
    #[serde(deserialize_with = "parse::millis::<_, 0, 60000>")]
    pub shutdown_drain_ms: Duration,
}

/// The URL customers reach Guichet at: absolute http or https, with a host,
/// no query or fragment. Keeps the text as written, which is the issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    text: String,
    url: url::Url,
}

impl PublicUrl {
    /// The URL as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected an absolute http or https URL without query or fragment";
        let url = url::Url::parse(s).map_err(|e| format!("{expected}, got {s:?} ({e})"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!("{expected}, got {s:?}"));
        }
        Ok(Self {
            text: s.to_owned(),
            url,
        })
    }
}

/// An http or https URL with a host: a collector or a gateway to send to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl(url::Url);

impl HttpUrl {
    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for HttpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected an http or https URL such as http://collector:4318";
        let url = url::Url::parse(s).map_err(|e| format!("{expected}, got {s:?} ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("{expected}, got {s:?}"));
        }
        Ok(Self(url))
    }
}

deserialize_from_str!(PublicUrl, HttpUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_absolute_web_urls_kept_as_written() {
        let u: PublicUrl = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8080");
        for bad in [
            "ftp://x",
            "login.example.com",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            let e = bad.parse::<PublicUrl>().unwrap_err();
            assert!(e.contains(bad) && e.contains("expected"), "{e}");
        }
    }
}
