//! The holder changes the account's password: the current one, then the
//! new one twice. Every other session, refresh token and access token of
//! the account ends; the calling browser goes on under a new session id.

use std::sync::Arc;

use accounts::{Account, AccountError, FieldProblem, Secret};

use crate::access::{self, Whom};
use crate::error::AppError;
use crate::notify::{self, SecurityChange};
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::SessionData;
use crate::session::throttle::Subject;

/// The session a password change is made from: it goes on under a new id.
pub struct Caller<'a> {
    /// The session's id, which ends.
    pub session_id: &'a str,
    /// The session's data, carried over to the new id.
    pub data: &'a SessionData,
}

/// The three fields of a password change.
pub struct PasswordChange {
    /// The password now, checked like at login.
    pub current: Secret,
    /// The new password.
    pub new: Secret,
    /// The new password again.
    pub confirm: Secret,
}

impl PasswordChange {
    /// The three fields as typed.
    pub fn new(current: String, new: String, confirm: String) -> Self {
        Self {
            current: Secret::new(current),
            new: Secret::new(new),
            confirm: Secret::new(confirm),
        }
    }
}

/// Changes the holder's password. Throttled like logins under the account's
/// count ([`AppError::RateLimited`] when over); a wrong current password is
/// the field error `WrongPassword` on `current_password`. Returns the
/// calling session's new id.
pub async fn change(
    app: &Arc<App>,
    account: &Account,
    caller: Caller<'_>,
    origin: Origin,
    change: PasswordChange,
) -> Result<String, AppError> {
    let ip = origin.ip_addr();
    let reservation = app
        .throttle
        .reserve(&Subject::Account(account.id), ip, app.clock.now_ms())
        .await?
        .map_err(AppError::RateLimited)?;
    let PasswordChange {
        current,
        new,
        confirm,
    } = change;
    let account = match app
        .accounts
        .change_password(account, &current, &new, &confirm)
        .await
    {
        Ok(a) => a,
        Err(AccountError::InvalidCredentials) => {
            reservation.failed();
            return Err(
                AccountError::field("current_password", FieldProblem::WrongPassword).into(),
            );
        }
        Err(AccountError::Invalid(errors)) => {
            if errors.iter().any(|e| e.field == "current_password") {
                // Left empty: nothing was checked.
                reservation.give_back().await?;
            } else {
                // The current password was right (it is checked first); the
                // new one was refused.
                reservation.succeeded().await?;
            }
            return Err(AccountError::Invalid(errors).into());
        }
        Err(e) => return Err(e.into()),
    };
    reservation.succeeded().await?;
    let kept = access::cut_off(app, Whom::holder(account.id), Some(caller.data)).await?;
    app.sessions.destroy(caller.session_id).await?;
    let change = SecurityChange::PasswordChanged;
    if let Some(mail) = notify::security_notice(&app.config, &account, &change) {
        notify::send_later(app, mail);
    }
    if let Some(backup) = account.backup_email.as_deref() {
        let mail = notify::security_notice_to(&app.config, &account, backup, &change);
        notify::send_later(app, mail);
    }
    seclog::change_later(app, account.id, &change, origin);
    Ok(kept.unwrap_or_default())
}
