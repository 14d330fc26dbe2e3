//! The one error of loading settings: the key, the value and what was
//! expected.

/// A configuration problem, naming the key.
#[derive(Debug)]
pub struct ConfigError {
    /// The dotted key, or the source that failed.
    pub key: String,
    /// What is wrong: the value given and what was expected.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration error: {}", self.key)?;
        // A dotted key is also an environment variable: name it as the
        // operator may have written it.
        let is_key = self.key.contains('.')
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if is_key {
            let var = self.key.to_ascii_uppercase().replace('.', "__");
            write!(f, " (GUICHET__{var})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        problem: problem.into(),
    }
}
