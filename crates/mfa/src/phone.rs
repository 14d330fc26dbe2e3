//! Phone numbers for codes sent by text message, parsed once at the boundary.
//! The service reads them back from its rows and the SMS ceremony sends to
//! them, so they live below both.

use crate::MfaError;

/// A phone number in E.164 form: `+` then 8 to 15 digits, the first not zero.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl std::fmt::Debug for PhoneNumber {
    // A phone number is personal data: debug output shows the hint only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.hint()).finish()
    }
}

impl PhoneNumber {
    /// Reads a number as typed: spaces, dots and dashes are dropped, then it
    /// must be `+` and 8 to 15 digits. National forms (`07700 900123`) are
    /// refused: without a country the number is ambiguous.
    pub fn parse(input: &str) -> Result<Self, MfaError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
            .collect();
        let digits = compact.strip_prefix('+').ok_or(MfaError::InvalidPhone)?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(compact))
        } else {
            Err(MfaError::InvalidPhone)
        }
    }

    /// Reads a number from the database, where only parsed numbers go.
    pub(crate) fn from_stored(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }

    /// The number in E.164, e.g. `+447700900123`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle hidden, for lists and messages:
    /// `+44 ••• ••• 0123`.
    pub fn hint(&self) -> String {
        let digits = &self.0[1..];
        let cc = &digits[..country_code_len(digits)];
        let last = &digits[digits.len() - 4..];
        format!("+{cc} ••• ••• {last}")
    }
}

/// The length of the country calling code at the start of `digits` (ITU-T
/// E.164 assignments): 1 and 7 are one digit, a fixed list is two, the rest three.
fn country_code_len(digits: &str) -> usize {
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO.iter().any(|p| digits.starts_with(p)) {
        2
    } else {
        3
    }
}
