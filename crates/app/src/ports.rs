//! The ports of the application layer that are not storage: what it needs
//! from the outside and that only an adapter can do. Storage's port is
//! [`crate::store::StateStore`].

/// How one POST of a logout token went.
#[derive(Debug)]
pub enum Delivery {
    /// The client answered with a success status.
    Delivered,
    /// The client answered with another status (as text, for the log).
    Refused(String),
    /// No answer: connection, timeout, or the client could not be built.
    Failed(String),
}

/// Sends one logout token to a client's back-channel URI.
#[async_trait::async_trait]
pub trait BackChannel: Send + Sync {
    /// POSTs `logout_token` as a form to `uri`, once.
    async fn post(&self, uri: &str, logout_token: &str) -> Delivery;
}

/// Counts second-factor checks for the operator's metrics.
pub trait FactorChecks: Send + Sync {
    /// One check: `method` is `totp`, `sms`, `recovery` or `webauthn`;
    /// `outcome` is `success`, `failure` or `error`.
    fn second_factor_check(&self, method: &'static str, outcome: &'static str);
}
