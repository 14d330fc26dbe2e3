//! `[log]` and `[telemetry]`: what the process tells its operators.

use std::str::FromStr;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str, word_enum};
use super::server::HttpUrl;

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// Lines for people or for collectors.
    pub format: LogFormat,
    /// Filter.
    pub level: LogLevel,
}

word_enum! {
    /// `log.format` and `--log-format`.
    pub enum LogFormat {
        /// For people.
        Text = "text",
        /// One JSON object per line, for log collectors.
        Json = "json",
    }
}

/// A `tracing` filter such as `info` or `guichet=debug,info`, checked when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLevel(String);

impl LogLevel {
    /// The filter as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        tracing_subscriber::EnvFilter::builder()
            .parse(s)
            .map(|_| Self(s.to_owned()))
            .map_err(|e| {
                format!("expected a tracing filter such as \"info\" or \"guichet=debug,info\", got {s:?} ({e})")
            })
    }
}

/// `[telemetry]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); `None`
    /// (empty) sends no traces.
    #[serde(deserialize_with = "parse::optional")]
    pub otlp_endpoint: Option<HttpUrl>,
    /// `service.name` of the exported spans.
    #[serde(deserialize_with = "parse::text::<_, 100>")]
    pub service_name: String,
    /// Share of requests traced, 0.0 to 1.0 (a caller's sampled parent wins).
    #[serde(deserialize_with = "parse::ratio")]
    pub sample_ratio: f64,
}

deserialize_from_str!(LogLevel);
