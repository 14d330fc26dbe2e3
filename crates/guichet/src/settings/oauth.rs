//! `[oauth]`: the key sealing the signing keys, tokens and codes.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::parse::{self, deserialize_from_str};

/// `[oauth]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSection {
    /// Base64 key sealing the signing keys; `None` (empty) lets the embedded
    /// SQLite default keep one in the data directory.
    #[serde(deserialize_with = "parse::optional")]
    pub key_encryption_key: Option<EncryptionKey>,
    /// `aud` of access tokens; `None` (empty) for the issuer.
    #[serde(deserialize_with = "parse::optional")]
    pub access_token_audience: Option<Audience>,
    /// How long an authorization code can be redeemed (`code_ttl_secs`):
    /// RFC 6749 §4.1.2 allows ten minutes at most.
    #[serde(deserialize_with = "parse::secs::<_, 1, 600>")]
    pub code_ttl_secs: Duration,
}

/// The base64 of a 32-byte key, checked by [`oauth::KeyEncryptor`]. Never
/// printed, not even in an error.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(String);

impl EncryptionKey {
    /// The key's base64 text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for EncryptionKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match oauth::KeyEncryptor::from_base64(s) {
            Ok(_) => Ok(Self(s.to_owned())),
            Err(e) => Err(format!(
                "{e} (expected the base64 of 32 random bytes, as `guichet keys new-encryption-key` prints; the value is not shown)"
            )),
        }
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The `aud` of access tokens: an absolute URI, kept exactly as written
/// because relying parties compare it as a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience(String);

impl Audience {
    /// The audience as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Audience {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        url::Url::parse(s)
            .map(|_| Self(s.to_owned()))
            .map_err(|e| format!("expected empty or an absolute URI, got {s:?} ({e})"))
    }
}

deserialize_from_str!(EncryptionKey, Audience);
