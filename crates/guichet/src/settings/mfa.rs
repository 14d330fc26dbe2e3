//! `[mfa]` and `[mfa.sms]`: second factors.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str, word_enum};
use super::server::HttpUrl;

/// `[mfa]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSection {
    /// The name authenticator apps show beside the code.
    pub issuer: Issuer,
    /// `[mfa.sms]`
    pub sms: SmsSection,
}

/// The issuer name of TOTP secrets: 1 to 64 characters without `:`, which
/// authenticator apps split on. Held without surrounding blanks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Issuer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() || t.len() > 64 || t.contains(':') {
            Err(format!(
                "expected 1 to 64 characters, without ':' (authenticator apps split on it), got {s:?}"
            ))
        } else {
            Ok(Self(t.to_owned()))
        }
    }
}

/// `[mfa.sms]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// Where codes go.
    pub transport: SmsTransportKind,
    /// The gateway's URL (required for `http`, checked with the other keys).
    #[serde(deserialize_with = "parse::optional")]
    pub gateway_url: Option<HttpUrl>,
    /// Bearer token for the gateway; never printed.
    pub gateway_token: String,
    /// Timeout of one gateway request (`timeout_secs`).
    #[serde(deserialize_with = "parse::secs::<_, 1, { u64::MAX }>")]
    pub timeout_secs: Duration,
}

word_enum! {
    /// `mfa.sms.transport`.
    pub enum SmsTransportKind {
        /// Files in `<data_dir>/sms-outbox` (development).
        Outbox = "outbox",
        /// A JSON POST to `gateway_url`.
        Http = "http",
    }
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

deserialize_from_str!(Issuer);
