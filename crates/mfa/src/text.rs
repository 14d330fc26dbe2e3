//! Checks on the strings callers hand in: identities and labels.

use sha2::{Digest, Sha256};

use crate::MfaError;

/// The longest identity, in bytes: the width of the `identity` columns.
pub(crate) const MAX_IDENTITY_BYTES: usize = 64;
/// The longest label, in characters.
pub(crate) const MAX_LABEL_CHARS: usize = 64;

/// Checks an identity: 1 to 64 bytes, no control characters, no surrounding
/// space. The crate never interprets it beyond that.
pub(crate) fn check_identity(identity: &str) -> Result<&str, MfaError> {
    let ok = !identity.is_empty()
        && identity.len() <= MAX_IDENTITY_BYTES
        && identity.trim() == identity
        && !identity.chars().any(char::is_control);
    if ok {
        Ok(identity)
    } else {
        Err(MfaError::InvalidIdentity)
    }
}

/// Trims a label and checks it: 1 to 64 characters, no control characters.
pub(crate) fn parse_label(label: &str) -> Result<String, MfaError> {
    let label = label.trim();
    let count = label.chars().count();
    if count == 0 || count > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(MfaError::InvalidLabel);
    }
    Ok(label.to_owned())
}

/// Hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A short tag of an identity for short-lived store keys: it keeps keys free
/// of the caller's separators and binds state to the identity that made it.
pub(crate) fn identity_tag(identity: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"guichet/mfa/identity\0");
    h.update(identity.as_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert!(check_identity("account:17").is_ok());
        assert!(check_identity("account:17/user:4").is_ok());
        assert!(check_identity(&"a".repeat(64)).is_ok());
        for bad in ["", " account:1", "account:1 ", "a\nb", &"a".repeat(65)] {
            assert!(
                matches!(check_identity(bad), Err(MfaError::InvalidIdentity)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("  Phone ").unwrap(), "Phone");
        assert_eq!(parse_label(&"é".repeat(64)).unwrap().chars().count(), 64);
        for bad in ["", "   ", "a\tb", "nul\0", &"é".repeat(65)] {
            assert!(
                matches!(parse_label(bad), Err(MfaError::InvalidLabel)),
                "{bad:?}"
            );
        }
    }
}
