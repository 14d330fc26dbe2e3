//! How one value of the configuration becomes its type. Every function here
//! refuses with a message that names the value given and what was expected;
//! the loader adds the key (`config` reports the path of the field that failed).

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};

/// What a number must be, for messages: "from 1 to 600", "at least 60", "at most 60000".
fn range_text(min: u64, max: u64) -> String {
    match (min, max) {
        (0, u64::MAX) => "a whole number".to_owned(),
        (min, u64::MAX) => format!("a whole number of at least {min}"),
        (0, max) => format!("a whole number of at most {max}"),
        (min, max) => format!("a whole number from {min} to {max}"),
    }
}

/// A whole number in `MIN..=MAX`, read as a `u64`.
fn within_u64<'de, D: Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if (MIN..=MAX).contains(&n) {
        Ok(n)
    } else {
        Err(D::Error::custom(format!(
            "expected {}, got {n}",
            range_text(MIN, MAX)
        )))
    }
}

/// A count or size in `MIN..=MAX`, as the field's own integer type.
pub fn within<'de, D, T, const MIN: u64, const MAX: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let n = within_u64::<D, MIN, MAX>(d)?;
    T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large for this machine")))
}

/// A duration written in whole seconds, `MIN..=MAX` of them.
pub fn secs<'de, D: Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<Duration, D::Error> {
    within_u64::<D, MIN, MAX>(d).map(Duration::from_secs)
}

/// A duration written in whole milliseconds, `MIN..=MAX` of them.
pub fn millis<'de, D: Deserializer<'de>, const MIN: u64, const MAX: u64>(
    d: D,
) -> Result<Duration, D::Error> {
    within_u64::<D, MIN, MAX>(d).map(Duration::from_millis)
}

/// A value written as a string and read by its `FromStr`.
pub fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(D::Error::custom)
}

/// A value that may be left empty: `""` is `None`, anything else is read by
/// its `FromStr`.
pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse().map(Some).map_err(D::Error::custom)
    }
}

/// A socket address, `ip:port`.
pub fn address<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| D::Error::custom(format!("expected ip:port, got {s:?}")))
}

/// A socket address, or `None` when left empty.
pub fn optional_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| D::Error::custom(format!("expected empty or ip:port, got {s:?}")))
}

/// A directory that must be named.
pub fn non_empty_path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let p = PathBuf::deserialize(d)?;
    if p.as_os_str().is_empty() {
        Err(D::Error::custom("expected a directory, got \"\""))
    } else {
        Ok(p)
    }
}

/// Text of 1 to `MAX` characters that is not only blanks.
pub fn text<'de, D: Deserializer<'de>, const MAX: usize>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() || s.len() > MAX {
        Err(D::Error::custom(format!(
            "expected 1 to {MAX} characters, got {s:?}"
        )))
    } else {
        Ok(s)
    }
}

/// A share between 0.0 and 1.0.
pub fn ratio<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let r = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(D::Error::custom(format!(
            "expected a number from 0.0 to 1.0, got {r}"
        )))
    }
}

/// Implements `Deserialize` through `FromStr`, so that a key's value is read
/// as text and refused with the type's own message.
macro_rules! deserialize_from_str {
    ($($t:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::settings::parse::parsed(d)
            }
        }
    )+};
}
pub(crate) use deserialize_from_str;

/// An enum written as one of a few words: `FromStr` refuses anything else
/// with the list of words, and `as_str` gives the word back (for the
/// environment of a child process).
macro_rules! word_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The word as written in the configuration.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    other => {
                        let words: &[&str] = &[$(concat!("\"", $word, "\"")),+];
                        Err(format!("expected {}, got {other:?}", words.join(" or ")))
                    }
                }
            }
        }

        $crate::settings::parse::deserialize_from_str!($name);
    };
}
pub(crate) use word_enum;

#[cfg(test)]
mod tests {
    use super::range_text;

    #[test]
    fn ranges_read_as_sentences() {
        assert_eq!(range_text(1, 600), "a whole number from 1 to 600");
        assert_eq!(range_text(60, u64::MAX), "a whole number of at least 60");
        assert_eq!(range_text(0, 60_000), "a whole number of at most 60000");
    }
}
