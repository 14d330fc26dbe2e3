//! The security page's decisions: adding and removing second factors,
//! emergency codes, turning two-factor off, and the re-authentication that a
//! security change asks for first. Each change writes its security-log line
//! and mails its notice here, so that no adapter can forget one.

mod codes;
mod reauth;

pub use codes::{delete_codes, regenerate_codes, take_codes};
pub use reauth::{Reauth, reauth};

use std::sync::Arc;

use accounts::Account;
use mfa::MethodKind;

use crate::error::AppError;
use crate::notify::{self, SecurityChange};
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::{SessionData, random_token};

/// The person making a security change: the holder, or a local user who
/// manages only their own methods.
pub struct Actor<'a> {
    /// The account signed in.
    pub account: &'a Account,
    /// The local user acting, when not the holder.
    pub user_id: Option<i32>,
    /// Their two-factor identity ([`crate::twofactor::identity_of`]).
    pub identity: String,
    /// The session's id, replaced after every authentication step.
    pub session_id: &'a str,
    /// The session.
    pub data: &'a SessionData,
    /// Where the request came from, for the security log.
    pub origin: Origin,
}

/// Mails the notice of a change and writes its security-log line, naming
/// where the request came from and which local user, if any, made it.
pub fn notice(app: &Arc<App>, actor: &Actor<'_>, change: SecurityChange) {
    let (kind, detail) = seclog::of_change(&change);
    seclog::record_later(
        app,
        actor.account.id,
        actor.user_id,
        kind,
        detail,
        actor.origin.clone(),
    );
    if let Some(mail) = notify::security_notice(&app.config, actor.account, &change) {
        notify::send_later(app, mail);
    }
}

/// Swaps the session for one holding `data` under a new id (after every
/// authentication step, so that an id seen before cannot ride the new
/// rights), and returns the new id.
pub async fn replace_session(app: &App, old: &str, data: &SessionData) -> Result<String, AppError> {
    let id = app.sessions.create(data).await?;
    app.sessions.destroy(old).await?;
    Ok(id)
}

/// A method proven at enrolment: the new session, and where to go.
#[derive(Debug)]
pub struct Enrolled {
    /// The new session's id.
    pub session_id: String,
    /// The emergency codes made for a first method (to show once), if any.
    pub codes: Option<String>,
}

/// A pending method's proof, sent to turn it on.
pub enum Confirmation {
    /// A code from the authenticator app just set up.
    Totp {
        /// The pending method.
        method: String,
        /// The code as typed.
        code: String,
    },
    /// The code sent to the new phone.
    Sms {
        /// The pending method.
        method: String,
        /// The code as typed.
        code: String,
    },
    /// The new security key's attestation.
    WebAuthn {
        /// The registration ceremony begun for it.
        ceremony: String,
        /// The name the person gave it.
        label: String,
        /// What the browser answered.
        credential: serde_json::Value,
    },
}

/// A typed code without its spaces, and never longer than any code is.
fn typed_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect()
}

/// Turns a pending method on when its proof holds, then does what every
/// enrolment does ([`enrolled`]). The inner error is the refusal the person
/// sees (a wrong code, a method no longer pending, a label refused, a key
/// that failed); the outer one is the machinery's.
pub async fn confirm(
    app: &Arc<App>,
    actor: &Actor<'_>,
    proof: Confirmation,
) -> Result<Result<Enrolled, mfa::MfaError>, AppError> {
    let id = &actor.identity;
    let (kind, outcome) = match proof {
        Confirmation::Totp { method, code } => {
            let now = app.clock.now_secs().max(0) as u64;
            let code = typed_code(&code);
            let done = app.mfa.totp_confirm(id, &method, &code, now);
            (MethodKind::Totp, done.await)
        }
        Confirmation::Sms { method, code } => {
            let code = typed_code(&code);
            let done = app.mfa.sms_confirm(id, &method, &code);
            (MethodKind::Sms, done.await)
        }
        Confirmation::WebAuthn {
            ceremony,
            label,
            credential,
        } => {
            let done = app
                .mfa
                .webauthn_register_finish(id, &ceremony, &label, &credential);
            (MethodKind::WebAuthn, done.await.map(|_| ()))
        }
    };
    match outcome {
        Ok(()) => Ok(Ok(enrolled(app, actor, kind).await?)),
        Err(e) => Ok(Err(e)),
    }
}

/// After a method was proven at enrolment: the session now counts that factor
/// too (the user just used it), emergency codes are made for a first method
/// (kept for one viewing under the returned key), and a notice goes out.
async fn enrolled(
    app: &Arc<App>,
    actor: &Actor<'_>,
    kind: MethodKind,
) -> Result<Enrolled, AppError> {
    // The label is not known here; the notice names the kind alone.
    notice(
        app,
        actor,
        SecurityChange::MethodAdded {
            kind,
            label: String::new(),
        },
    );
    let mut data = SessionData {
        csrf: random_token(),
        ..actor.data.clone()
    };
    data.add_methods(&[kind.amr(), "mfa"]);
    let session_id = replace_session(app, actor.session_id, &data).await?;
    let codes = if app.mfa.recovery_remaining(&actor.identity).await? == 0 {
        let codes = app.mfa.recovery_generate(&actor.identity).await?;
        Some(codes::stash(app, &data.sid, &codes).await?)
    } else {
        None
    };
    Ok(Enrolled { session_id, codes })
}

/// Removes one of the actor's methods. `Ok(false)` when they have no such
/// method (another person's id included).
pub async fn remove_method(
    app: &Arc<App>,
    actor: &Actor<'_>,
    method_id: &str,
) -> Result<bool, AppError> {
    let methods = app.mfa.methods(&actor.identity).await?;
    let Some(m) = methods.iter().find(|m| m.id == method_id) else {
        return Ok(false);
    };
    app.mfa.remove(&actor.identity, &m.id).await?;
    let change = SecurityChange::MethodRemoved {
        kind: m.kind,
        label: m.label.clone(),
    };
    notice(app, actor, change);
    Ok(true)
}

/// Turns two-factor off: every method and code goes.
pub async fn disable(app: &Arc<App>, actor: &Actor<'_>) -> Result<(), AppError> {
    app.mfa.disable(&actor.identity).await?;
    notice(app, actor, SecurityChange::TwoFactorDisabled);
    Ok(())
}
