//! A proof at the second step: counted, checked, and either refused (and
//! logged) or turned into a session.

use std::net::IpAddr;
use std::sync::Arc;

use accounts::{Account, EventKind};
use mfa::{MethodKind, MfaError};
use serde_json::Value;

use super::{Step, active_account, pending_key};
use crate::error::AppError;
use crate::ports::FactorChecks;
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::throttle::{Reservation, retry_after_secs};
use crate::session::{SessionData, random_token};
use crate::twofactor::{self, Proof};

/// What the person sent at the second step.
pub enum StepProof {
    /// A code typed for `method`: a method id (app or phone), or `recovery`
    /// for an emergency code.
    Code {
        /// The method the code is for.
        method: String,
        /// The code as typed.
        code: String,
    },
    /// A security key's answer to the challenge of `ceremony`.
    WebAuthn {
        /// The login ceremony begun for it.
        ceremony: String,
        /// What the browser answered.
        response: Value,
    },
}

/// What a proof came to.
#[derive(Debug)]
pub enum Checked {
    /// Too many wrong proofs lately: wait this many seconds.
    Throttled(u64),
    /// The proof did not hold (logged, and counted against the person).
    Refused,
    /// A login's second factor held: the session to open
    /// ([`crate::sign_in::complete`]) for this account.
    LoggedIn {
        /// The account, still active.
        account: Box<Account>,
        /// The session to open.
        data: Box<SessionData>,
    },
    /// A login's second factor held but the account is no longer active.
    LoginGone,
    /// A step-up held: the new session's id.
    SteppedUp {
        /// The new session's id.
        session_id: String,
    },
}

/// The mfa proof a typed code stands for; `None` for a method that is not
/// the person's or takes no code.
async fn code_proof(
    app: &App,
    identity: &str,
    method: &str,
    code: &str,
) -> Result<Option<Proof>, MfaError> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(64)
        .collect();
    if method == "recovery" {
        return Ok(Some(Proof::Recovery(code)));
    }
    let methods = app.mfa.methods(identity).await?;
    Ok(methods
        .iter()
        .find(|m| m.id == method)
        .and_then(|m| match m.kind {
            MethodKind::Totp => Some(Proof::Totp(code.clone())),
            MethodKind::Sms => Some(Proof::Sms {
                method: m.id.clone(),
                code: code.clone(),
            }),
            MethodKind::WebAuthn => None,
        }))
}

/// Checks `proof` for `step`, from `ip`, counting it in `counter`.
///
/// Throttle invariant: the attempt is reserved with `Throttle::reserve`,
/// here, before the proof is looked at, so that of parallel guesses only as
/// many as the delays allow are ever checked.
pub async fn check(
    app: &Arc<App>,
    counter: &dyn FactorChecks,
    step: &Step,
    ip: IpAddr,
    proof: StepProof,
) -> Result<Checked, AppError> {
    let subject = step.subject();
    let reservation = match app
        .throttle
        .reserve(&subject, ip, app.clock.now_ms())
        .await?
    {
        Ok(r) => r,
        Err(wait) => return Ok(Checked::Throttled(retry_after_secs(wait))),
    };
    let identity = step.identity();
    let proof = match proof {
        StepProof::Code { method, code } => code_proof(app, &identity, &method, &code).await?,
        StepProof::WebAuthn { ceremony, response } => Some(Proof::WebAuthn { ceremony, response }),
    };
    let factor = match proof {
        Some(p) => twofactor::check(&app.mfa, counter, &identity, p).await?,
        None => None,
    };
    match factor {
        Some(factor) => complete(app, step, factor, reservation).await,
        None => {
            reservation.failed();
            tracing::info!(%ip, ?subject, "second factor refused");
            seclog::record_later(
                app,
                step.account_id(),
                step.user_id(),
                EventKind::SecondFactorFailed,
                String::new(),
                Origin::new(ip, ""),
            );
            Ok(Checked::Refused)
        }
    }
}

/// The second factor held: a new session (new id, as after every
/// authentication step) that records both factors.
async fn complete(
    app: &App,
    step: &Step,
    factor: &str,
    reservation: Reservation,
) -> Result<Checked, AppError> {
    let now = app.clock.now_secs();
    let account_id = step.account_id();
    let is_login = !step.is_step_up();
    let data = match step {
        Step::Login { token, pending: p } => {
            app.store.delete(&pending_key(token)).await?;
            SessionData::opened(
                account_id,
                p.user_id,
                now,
                vec!["pwd".into(), factor.into(), "mfa".into()],
                p.ip.clone(),
                p.user_agent.clone(),
            )
        }
        Step::StepUp { session_id, data } => {
            app.sessions.destroy(session_id).await?;
            // The relying parties' view of the session (its sid) is
            // unchanged.
            let mut data = SessionData {
                auth_time: now,
                last_seen: now,
                csrf: random_token(),
                ..data.clone()
            };
            data.add_methods(&[factor, "mfa"]);
            data
        }
    };
    reservation.succeeded().await?;
    tracing::info!(account_id, factor, "second factor accepted");
    if is_login {
        // A login ends like every other one: the adapter opens the session
        // through `sign_in::complete`.
        return Ok(match active_account(app, account_id).await? {
            Some(account) => Checked::LoggedIn {
                account: Box::new(account),
                data: Box::new(data),
            },
            None => Checked::LoginGone,
        });
    }
    let session_id = app.sessions.create(&data).await?;
    Ok(Checked::SteppedUp { session_id })
}

/// Sends a code to one of the person's registered phones. The inner error
/// is what the person is told (too many sends, no such phone).
pub async fn send_sms(
    app: &App,
    step: &Step,
    method: &str,
) -> Result<Result<(), MfaError>, AppError> {
    match app.mfa.sms_send(&step.identity(), method).await {
        Ok(()) => Ok(Ok(())),
        Err(e @ (MfaError::TooManySends | MfaError::NotFound)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}
