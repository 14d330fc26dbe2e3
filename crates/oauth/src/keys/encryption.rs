//! Encryption of private keys at rest.
//!
//! A copy of the database (a backup, a replica, a leaked dump) must not hand out
//! keys that sign tokens relying parties trust. So every private key is sealed
//! with AES-256-GCM under a key the operator keeps outside the database.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::error::OAuthError;

/// Bytes in an AES-256 key.
const KEY_LEN: usize = 32;
/// Bytes in a GCM nonce: 96 bits, the size GCM is designed for.
const NONCE_LEN: usize = 12;
/// Bytes in a GCM tag.
const TAG_LEN: usize = 16;

/// Accepts the standard alphabet with or without padding; url-safe input is
/// mapped onto it first, so operators may paste either form.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Seals and opens private signing keys with AES-256-GCM.
///
/// Each sealed value is `base64(nonce || ciphertext || tag)` with a fresh random
/// nonce, and the key's `kid` is authenticated as associated data: a ciphertext
/// copied onto another row fails to open instead of silently swapping keys.
#[derive(Clone)]
pub struct KeyEncryptor {
    cipher: Aes256Gcm,
}

impl fmt::Debug for KeyEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cipher holds the expanded key; never let it reach a log.
        f.write_str("KeyEncryptor(..)")
    }
}

impl KeyEncryptor {
    /// Reads a 32-byte key written in base64, standard or url-safe, padded or not.
    pub fn from_base64(encoded: &str) -> Result<Self, OAuthError> {
        let normalized: String = encoded
            .trim()
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                other => other,
            })
            .collect();
        let bytes = Zeroizing::new(LENIENT.decode(normalized.as_bytes()).map_err(|_| {
            OAuthError::InvalidEncryptionKey(
                "not valid base64 (standard or url-safe alphabet expected)".to_owned(),
            )
        })?);
        if bytes.len() != KEY_LEN {
            return Err(OAuthError::InvalidEncryptionKey(format!(
                "must decode to {KEY_LEN} bytes, found {}",
                bytes.len()
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| OAuthError::InvalidEncryptionKey("unusable AES-256 key".to_owned()))?;
        Ok(Self { cipher })
    }

    /// A fresh random key in standard padded base64, for operators setting up a
    /// new deployment and for tests.
    pub fn generate_base64() -> String {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        STANDARD.encode(key.as_ref())
    }

    /// Seals `plaintext` for the row whose key id is `kid`.
    pub fn encrypt(&self, kid: &str, plaintext: &[u8]) -> Result<String, OAuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        // A random 96-bit nonce per call: a few thousand keys over the life of a
        // deployment stay far below the birthday bound for GCM nonces.
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| OAuthError::Internal("could not encrypt a signing key".to_owned()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// Opens a value sealed by [`encrypt`](Self::encrypt) for the same `kid`.
    /// Fails on a wrong encryption key, a tampered value, or another row's value.
    pub fn decrypt(&self, kid: &str, stored: &str) -> Result<Zeroizing<Vec<u8>>, OAuthError> {
        let failed = || {
            OAuthError::Internal(format!(
                "signing key {kid} could not be decrypted (wrong encryption key or altered row)"
            ))
        };
        let raw = STANDARD.decode(stored.trim()).map_err(|_| failed())?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(failed());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| failed())?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: kid.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| failed())
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    use super::*;

    fn key_bytes() -> [u8; 32] {
        // Bytes chosen so the encodings use `+`/`/` (or `-`/`_`) and need padding.
        let mut k = [0xfbu8; 32];
        k[0] = 0xff;
        k[31] = 0xfe;
        k
    }

    #[test]
    fn accepts_every_base64_flavour() {
        let k = key_bytes();
        for encoded in [
            STANDARD.encode(k),
            STANDARD.encode(k).trim_end_matches('=').to_owned(),
            URL_SAFE.encode(k),
            URL_SAFE_NO_PAD.encode(k),
            format!("  {}\n", STANDARD.encode(k)),
        ] {
            let a = KeyEncryptor::from_base64(&encoded).expect(&encoded);
            let b = KeyEncryptor::from_base64(&STANDARD.encode(k)).unwrap();
            let sealed = a.encrypt("kid", b"secret").unwrap();
            assert_eq!(b.decrypt("kid", &sealed).unwrap().as_slice(), b"secret");
        }
    }

    #[test]
    fn refuses_bad_keys_and_names_the_problem() {
        let err = KeyEncryptor::from_base64("not base64 !!").unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
        let err = KeyEncryptor::from_base64(&STANDARD.encode([1u8; 16])).unwrap_err();
        assert!(err.to_string().contains("32 bytes, found 16"), "{err}");
        let err = KeyEncryptor::from_base64("").unwrap_err();
        assert!(err.to_string().contains("found 0"), "{err}");
    }

    #[test]
    fn debug_hides_the_key() {
        let encoded = STANDARD.encode(key_bytes());
        let e = KeyEncryptor::from_base64(&encoded).unwrap();
        let shown = format!("{e:?}");
        assert_eq!(shown, "KeyEncryptor(..)");
        assert!(!shown.contains(&encoded));
    }

    #[test]
    fn ciphertext_differs_per_call_and_hides_the_plaintext() {
        let e = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let plaintext = b"-----BEGIN PRIVATE KEY----- raw key bytes";
        let one = e.encrypt("k1", plaintext).unwrap();
        let two = e.encrypt("k1", plaintext).unwrap();
        assert_ne!(one, two);
        for sealed in [&one, &two] {
            assert!(!sealed.contains("BEGIN"));
            let raw = STANDARD.decode(sealed).unwrap();
            assert_eq!(raw.len(), NONCE_LEN + plaintext.len() + TAG_LEN);
            assert!(!raw.windows(plaintext.len()).any(|w| w == plaintext));
            assert_eq!(e.decrypt("k1", sealed).unwrap().as_slice(), plaintext);
        }
    }

    #[test]
    fn wrong_key_fails() {
        let e = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let other = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let sealed = e.encrypt("k1", b"secret").unwrap();
        assert!(other.decrypt("k1", &sealed).is_err());
    }

    #[test]
    fn ciphertext_is_bound_to_its_kid() {
        let e = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let sealed = e.encrypt("k1", b"secret").unwrap();
        assert!(e.decrypt("k2", &sealed).is_err());
    }

    #[test]
    fn tampered_or_truncated_values_fail_without_panic() {
        let e = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let sealed = e.encrypt("k1", b"secret").unwrap();
        let mut raw = STANDARD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(e.decrypt("k1", &STANDARD.encode(&raw)).is_err());
        for bad in ["", "AAAA", "%%%", &sealed[..10]] {
            assert!(e.decrypt("k1", bad).is_err(), "{bad}");
        }
    }
}
