//! Email addresses as customers type them.

use std::fmt;

/// An email address, syntax-checked. Kept as typed (trimmed) for display and
/// sending; compared by `normalized()`, the whole address in lowercase, because
/// customers do not expect `Jo@Example.com` and `jo@example.com` to be two accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

/// RFC 5321's limit on a forward path.
const MAX_LEN: usize = 254;
const MAX_LOCAL: usize = 64;

impl EmailAddress {
    /// Parses an address: one `@`, a dot-atom local part of at most 64 characters,
    /// and a DNS domain with at least two labels and an alphabetic top-level label.
    /// Quoted local parts and address literals are refused: no mailbox provider a
    /// customer uses needs them, and they complicate every later comparison.
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        if s.is_empty() || s.len() > MAX_LEN {
            return None;
        }
        let (local, domain) = s.split_once('@')?;
        if local.is_empty() || local.len() > MAX_LOCAL || !is_dot_atom(local) {
            return None;
        }
        if !is_domain(domain) {
            return None;
        }
        Some(Self(s.to_owned()))
    }

    /// The address as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lowercase, the form used to compare and to look up.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map(|(l, _)| l).unwrap_or("")
    }

    /// The part after the `@`, lowercase.
    pub fn domain(&self) -> String {
        self.0
            .split_once('@')
            .map(|(_, d)| d.to_lowercase())
            .unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_domain(d: &str) -> bool {
    if d.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld = labels[labels.len() - 1];
    labels.iter().all(label_ok)
        && tld.len() >= 2
        && (tld.bytes().all(|b| b.is_ascii_alphabetic()) || tld.starts_with("xn--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "jo@example.com",
            "Jo.Doe+ovh@Example.CO.uk",
            " a@b.fr ",
            "o'neil@example.ie",
            "x@xn--bcher-kva.ch",
        ] {
            assert!(EmailAddress::parse(ok).is_some(), "{ok:?} refused");
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            "jo",
            "jo@",
            "@example.com",
            "jo@example",
            "jo@@example.com",
            "jo@ex ample.com",
            "j o@example.com",
            ".jo@example.com",
            "jo.@example.com",
            "j..o@example.com",
            "jo@-example.com",
            "jo@example.c",
            "jo@example.123",
            "\"jo\"@example.com",
            "jo@[127.0.0.1]",
            "jo@exämple.com",
            "jo@example.com\r\nBcc: x@evil.com",
            long_local.as_str(),
            long.as_str(),
        ] {
            assert!(EmailAddress::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn compares_case_insensitively() {
        let a = EmailAddress::parse("Jo@Example.com").unwrap();
        assert_eq!(a.normalized(), "jo@example.com");
        assert_eq!(a.as_str(), "Jo@Example.com");
        assert_eq!(a.local_part(), "Jo");
        assert_eq!(a.domain(), "example.com");
    }
}
