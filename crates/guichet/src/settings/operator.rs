//! `[operator]`: the operator API's listener and who may use it.

use std::net::SocketAddr;

use serde::Deserialize;

use super::error::{ConfigError, bad};
use super::parse;

/// `[operator]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// Listen address of the operator API; `None` (empty) turns it off.
    #[serde(deserialize_with = "parse::optional_address")]
    pub bind: Option<SocketAddr>,
    /// `name:secret` entries; the secrets are never printed.
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for OperatorSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .tokens
            .iter()
            .map(|t| match t.split_once(':') {
                Some((name, _)) => format!("{name}:***"),
                None => "***".to_owned(),
            })
            .collect();
        f.debug_struct("OperatorSection")
            .field("bind", &self.bind)
            .field("tokens", &names)
            .finish()
    }
}

impl OperatorSection {
    /// Whether the operator API has a listener.
    pub fn is_enabled(&self) -> bool {
        self.bind.is_some()
    }

    /// The operators the tokens name, checked: well-formed entries, long
    /// secrets, no name or secret twice. Blank entries (an empty environment
    /// variable) are skipped. Errors name the entry by position and name, never
    /// by its secret.
    pub fn operators(&self) -> Result<Vec<server::admin::Operator>, ConfigError> {
        let mut operators: Vec<server::admin::Operator> = Vec::new();
        for (i, entry) in self.tokens.iter().enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            let at = format!("operator.tokens[{i}]");
            let op = server::admin::Operator::parse(entry).map_err(|e| bad(&at, e))?;
            if operators.iter().any(|o| o.name() == op.name()) {
                return Err(bad(&at, format!("the name {:?} is used twice", op.name())));
            }
            if operators.iter().any(|o| o.same_secret(&op)) {
                return Err(bad(
                    &at,
                    format!(
                        "{:?} has the same secret as another operator; give each its own",
                        op.name()
                    ),
                ));
            }
            operators.push(op);
        }
        Ok(operators)
    }
}
