//! Six-digit one-time codes sent to a person (by SMS, or to their primary
//! email on a risky login), as kept in the short-lived store.

use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use subtle::ConstantTimeEq;

use crate::text::sha256_hex;

/// A code as kept in the short-lived store: its expiry, a random nonce that
/// names its wrong-try counter, and a hash of the code (the store never holds
/// the code itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimeCode {
    pub(crate) expires_unix: i64,
    pub(crate) nonce: String,
    pub(crate) hash: String,
}

impl OneTimeCode {
    /// Draws a new 6-digit code valid `ttl_secs` from `now_unix`; returns the
    /// code to send and what to store.
    pub fn issue(now_unix: i64, ttl_secs: i64) -> (String, Self) {
        let code = format!("{:06}", OsRng.gen_range(0..1_000_000u32));
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let stored = Self {
            expires_unix: now_unix.saturating_add(ttl_secs),
            hash: Self::hash(&nonce, &code),
            nonce,
        };
        (code, stored)
    }

    pub(crate) fn hash(nonce: &str, code: &str) -> String {
        sha256_hex(format!("{nonce}:{code}").as_bytes())
    }

    /// Whether `code` (as typed) is this code and it has not expired at
    /// `now_unix`. Compared in constant time.
    pub fn matches(&self, code: &str, now_unix: i64) -> bool {
        let Some(code) = normalise_code(code) else {
            return false;
        };
        if self.expires_unix <= now_unix {
            return false;
        }
        let presented = Self::hash(&self.nonce, &code);
        bool::from(presented.as_bytes().ct_eq(self.hash.as_bytes()))
    }

    /// Seconds left at `now_unix` (zero once expired).
    pub fn seconds_left(&self, now_unix: i64) -> u64 {
        u64::try_from(self.expires_unix - now_unix).unwrap_or(0)
    }

    /// The random name of this code, for its wrong-try counter.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.expires_unix, self.nonce, self.hash)
    }

    /// Reads what [`encode`](Self::encode) wrote.
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, ':');
        let expires_unix = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        let hash = parts.next()?.to_owned();
        Some(Self {
            expires_unix,
            nonce,
            hash,
        })
    }
}

/// Six digits or nothing: what people type, spaces removed.
pub fn normalise_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_until_it_expires_and_survives_its_stored_form() {
        let (code, stored) = OneTimeCode::issue(1_000, 600);
        assert_eq!(code.len(), 6);
        let back = OneTimeCode::decode(&stored.encode()).unwrap();
        assert_eq!(back, stored);
        assert!(back.matches(&code, 1_599));
        assert!(back.matches(&format!(" {} {} ", &code[..3], &code[3..]), 1_000));
        assert!(!back.matches(&code, 1_600), "expired");
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(!back.matches(&wrong, 1_000));
        assert!(!back.matches("12345", 1_000));
        assert!(
            !stored.encode().contains(&code),
            "the code itself is not stored"
        );
        assert_eq!(back.seconds_left(1_500), 100);
    }
}
