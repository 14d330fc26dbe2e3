//! What the application lends the `mfa` crate (its short-lived state in the
//! session store, its secrets sealed with the configured encryption key), and
//! the one place that checks a second-factor proof, for login, step-up and
//! re-authentication alike.

use std::time::Duration;

use mfa::{Mfa, MfaError};
use serde_json::Value;

use crate::store::Store;

/// The identity the `mfa` crate knows an account by. Local users get their own
/// (`account:<id>/user:<id>`), so one machinery serves both.
pub fn identity(account_id: i32) -> String {
    format!("account:{account_id}")
}

/// The identity of whoever signed in: the holder's, or the local user's own
/// under it, so a user's methods are never the holder's.
pub fn identity_of(account_id: i32, user_id: Option<i32>) -> String {
    match user_id {
        None => identity(account_id),
        Some(u) => format!("{}/user:{u}", identity(account_id)),
    }
}

/// Short-lived two-factor state (SMS codes, WebAuthn ceremonies) in the same
/// store as sessions: Redis in production, so any replica can finish what
/// another began.
pub struct StoreEphemeral(pub Store);

fn ephemeral(e: crate::store::StoreError) -> MfaError {
    MfaError::Ephemeral(e.0)
}

#[async_trait::async_trait]
impl mfa::Ephemeral for StoreEphemeral {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), MfaError> {
        self.0
            .set(&format!("mfa:{key}"), value, ttl)
            .await
            .map_err(ephemeral)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, MfaError> {
        self.0.take(&format!("mfa:{key}")).await.map_err(ephemeral)
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, MfaError> {
        self.0
            .incr(&format!("mfa:{key}"), ttl)
            .await
            .map_err(ephemeral)
    }
}

/// Seals TOTP secrets with the key that already protects the signing keys, so
/// a copy of the database alone reveals no second factor.
pub struct KeySealer(pub oauth::KeyEncryptor);

impl mfa::Sealer for KeySealer {
    fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, MfaError> {
        self.0
            .encrypt(context, plaintext)
            .map_err(|e| MfaError::Sealing(e.to_string()))
    }

    fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, MfaError> {
        self.0
            .decrypt(context, sealed)
            .map(|z| z.to_vec())
            .map_err(|e| MfaError::Sealing(e.to_string()))
    }
}

/// A second factor presented by the user.
pub enum Proof {
    /// A code from an authenticator app.
    Totp(String),
    /// A code received by SMS on one registered phone.
    Sms { method: String, code: String },
    /// One of the emergency codes.
    Recovery(String),
    /// A security key's answer to a challenge.
    WebAuthn { ceremony: String, response: Value },
}

/// [`verify`], counted by method and outcome for the operator's metrics.
pub async fn check(
    mfa: &Mfa,
    counter: &dyn crate::ports::FactorChecks,
    identity: &str,
    proof: Proof,
) -> Result<Option<&'static str>, MfaError> {
    let method = match &proof {
        Proof::Totp(_) => "totp",
        Proof::Sms { .. } => "sms",
        Proof::Recovery(_) => "recovery",
        Proof::WebAuthn { .. } => "webauthn",
    };
    let checked = verify(mfa, identity, proof).await;
    let outcome = match &checked {
        Ok(Some(_)) => "success",
        Ok(None) => "failure",
        Err(_) => "error",
    };
    counter.second_factor_check(method, outcome);
    checked
}

/// Checks a proof. `Ok(Some(amr))` names the factor (RFC 8176 values) when
/// it holds, `Ok(None)` when it does not; other errors are the machinery's
/// (store down, database), never the user's. Callers count the checks
/// through [`check`].
pub async fn verify(
    mfa: &Mfa,
    identity: &str,
    proof: Proof,
) -> Result<Option<&'static str>, MfaError> {
    let now = mfa.clock().now_secs().max(0) as u64;
    let outcome = match proof {
        Proof::Totp(code) => mfa
            .totp_verify(identity, &code, now)
            .await
            .map(|m| m.map(|_| "otp")),
        Proof::Sms { method, code } => mfa
            .sms_verify(identity, &method, &code)
            .await
            .map(|ok| ok.then_some("sms")),
        // An emergency code is a one-time password in RFC 8176's sense.
        Proof::Recovery(code) => mfa
            .recovery_consume(identity, &code)
            .await
            .map(|ok| ok.then_some("otp")),
        Proof::WebAuthn { ceremony, response } => mfa
            .webauthn_login_finish(identity, &ceremony, &response)
            .await
            .map(|_| Some("hwk")),
    };
    match outcome {
        Ok(v) => Ok(v),
        Err(
            MfaError::WrongCode
            | MfaError::NotFound
            | MfaError::ChallengeExpired
            | MfaError::CounterRegression
            | MfaError::WebAuthn(_),
        ) => Ok(None),
        Err(e) => Err(e),
    }
}
