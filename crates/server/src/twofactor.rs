//! Two-factor checks live in `app::twofactor`; here they are counted in the
//! server's metrics, which only the adapter owns.

use mfa::{Mfa, MfaError};

pub use app::twofactor::*;

use crate::metrics::Metrics;

/// Checks a proof, and counts the check in `metrics`. `Ok(Some(amr))` names the
/// factor (RFC 8176 values) when it holds, `Ok(None)` when it does not; other
/// errors are the machinery's (store down, database), never the user's.
pub async fn check(
    mfa: &Mfa,
    metrics: &Metrics,
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
    metrics.second_factor_check(method, outcome);
    checked
}
