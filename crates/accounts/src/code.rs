//! The numeric customer code, `1234-567-89`, that support asks for.

use std::fmt;

use rand::Rng;

/// A customer code: nine digits shown as `dddd-ddd-dd`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomerCode(String);

impl CustomerCode {
    /// Draws a new code. Uniqueness is enforced by the database; the caller retries.
    pub fn generate(rng: &mut impl Rng) -> Self {
        // A leading zero is avoided so that the code survives being typed into
        // spreadsheets and phone keypads that drop it.
        let n: u32 = rng.gen_range(100_000_000..=999_999_999);
        let s = n.to_string();
        Self(format!("{}-{}-{}", &s[..4], &s[4..7], &s[7..]))
    }

    /// Parses a code typed with or without dashes or spaces.
    pub fn parse(input: &str) -> Option<Self> {
        let digits: String = input.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        if digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Some(Self(format!(
                "{}-{}-{}",
                &digits[..4],
                &digits[4..7],
                &digits[7..]
            )))
        } else {
            None
        }
    }

    /// The code with its dashes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_have_the_support_shape() {
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let c = CustomerCode::generate(&mut rng);
            let s = c.as_str();
            assert_eq!(s.len(), 11);
            assert_eq!(&s[4..5], "-");
            assert_eq!(&s[8..9], "-");
            assert_eq!(CustomerCode::parse(s), Some(c.clone()));
        }
    }

    #[test]
    fn parse_accepts_spaces_and_no_dashes() {
        assert_eq!(
            CustomerCode::parse("123456789").unwrap().as_str(),
            "1234-567-89"
        );
        assert_eq!(
            CustomerCode::parse("1234 567 89").unwrap().as_str(),
            "1234-567-89"
        );
        assert!(CustomerCode::parse("1234-567-8").is_none());
        assert!(CustomerCode::parse("1234-567-8a").is_none());
    }
}
