//! The customer handle, `xx11111-ovh`: how a customer names their account.

use std::fmt;

use rand::Rng;
use unicode_normalization::UnicodeNormalization;

/// The part after the dash, the same for every handle of one installation (`ovh`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandleSuffix(String);

impl HandleSuffix {
    /// Accepts 1 to 16 lowercase ASCII letters or digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 16
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "must be 1 to 16 lowercase ASCII letters or digits, got {s:?}"
            ))
        }
    }

    /// The suffix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for HandleSuffix {
    fn default() -> Self {
        Self("ovh".to_owned())
    }
}

/// A customer handle: two letters, digits, a dash and the suffix. Always lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomerHandle(String);

/// Smallest and largest number drawn for a new handle: five or six digits, as in
/// the handles customers already know.
const DIGITS_MIN: u32 = 10_000;
const DIGITS_MAX: u32 = 999_999;

impl CustomerHandle {
    /// Parses a handle typed by a person, in any case. Returns `None` for anything
    /// that cannot be a handle, so callers can treat it like an unknown one.
    pub fn parse(input: &str) -> Option<Self> {
        let lower = input.trim().to_ascii_lowercase();
        let (left, suffix) = lower.split_once('-')?;
        let bytes = left.as_bytes();
        let shape_ok = bytes.len() >= 3
            && bytes.len() <= 12
            && bytes[..2].iter().all(u8::is_ascii_lowercase)
            && bytes[2..].iter().all(u8::is_ascii_digit);
        if shape_ok && HandleSuffix::parse(suffix).is_ok() {
            Some(Self(lower))
        } else {
            None
        }
    }

    /// Draws a new candidate handle for a holder. Uniqueness is the database's job:
    /// the caller retries with another draw when the insert meets a taken handle.
    pub fn generate(
        first_name: &str,
        last_name: &str,
        suffix: &HandleSuffix,
        rng: &mut impl Rng,
    ) -> Self {
        let digits = rng.gen_range(DIGITS_MIN..=DIGITS_MAX);
        Self(format!(
            "{}{}{digits}-{}",
            initial(first_name),
            initial(last_name),
            suffix.as_str()
        ))
    }

    /// The handle, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first letter of a name folded to lowercase ASCII, or `x` when the name has
/// no letter that folds (an empty name, or a script with no Latin transliteration
/// here). Accents are removed by canonical decomposition; a few letters that do
/// not decompose are mapped by hand.
fn initial(name: &str) -> char {
    for c in name.nfd() {
        if c.is_ascii_alphabetic() {
            return c.to_ascii_lowercase();
        }
        let mapped = match c {
            'ß' => Some('s'),
            'æ' | 'Æ' => Some('a'),
            'ø' | 'Ø' => Some('o'),
            'œ' | 'Œ' => Some('o'),
            'ł' | 'Ł' => Some('l'),
            'đ' | 'Đ' | 'ð' | 'Ð' => Some('d'),
            'þ' | 'Þ' => Some('t'),
            'ı' => Some('i'),
            _ => None,
        };
        if let Some(m) = mapped {
            return m;
        }
        if c.is_alphabetic() {
            // A letter we cannot fold: the name has an initial, just not a Latin one.
            return 'x';
        }
    }
    'x'
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn gen_handle(first: &str, last: &str) -> String {
        let mut rng = StdRng::seed_from_u64(7);
        CustomerHandle::generate(first, last, &HandleSuffix::default(), &mut rng)
            .as_str()
            .to_owned()
    }

    fn shape_ok(h: &str) -> bool {
        let (left, suffix) = h.split_once('-').unwrap();
        suffix == "ovh"
            && left[..2].bytes().all(|b| b.is_ascii_lowercase())
            && (5..=6).contains(&left[2..].len())
            && left[2..].bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn initials_come_from_first_and_last_name() {
        let h = gen_handle("Dominique", "Martin");
        assert!(h.starts_with("dm"), "{h}");
        assert!(shape_ok(&h), "{h}");
    }

    #[test]
    fn accents_are_folded() {
        assert!(gen_handle("Élodie", "Ørsted").starts_with("eo"));
        assert!(gen_handle("  çedric", "Łukasz").starts_with("cl"));
    }

    #[test]
    fn missing_initials_become_x() {
        assert!(gen_handle("", "").starts_with("xx"));
        assert!(gen_handle("李", "Wang").starts_with("xw"));
        assert!(gen_handle("123", "-").starts_with("xx"));
    }

    #[test]
    fn parse_accepts_any_case_and_stores_lowercase() {
        let h = CustomerHandle::parse(" DM429850-OVH ").unwrap();
        assert_eq!(h.as_str(), "dm429850-ovh");
    }

    #[test]
    fn parse_refuses_other_shapes() {
        for bad in [
            "",
            "dm-ovh",
            "d1234-ovh",
            "dm12a4-ovh",
            "dm1234",
            "dm1234-",
            "dm1234-ov h",
            "dm1234567890123-ovh",
            "user@example.com",
            "dm1234-ovh/john",
        ] {
            assert!(CustomerHandle::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn suffix_is_validated() {
        assert!(HandleSuffix::parse("ovh").is_ok());
        assert!(HandleSuffix::parse("OVH").is_err());
        assert!(HandleSuffix::parse("").is_err());
        assert!(HandleSuffix::parse("a-b").is_err());
    }
}
