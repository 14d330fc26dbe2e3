//! A reset link: opened, then used to set a new password.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use accounts::{Account, AccountError, FieldError, FieldProblem, Secret};

use crate::error::AppError;
use crate::notify::{self, SecurityChange};
use crate::services::App;
use crate::session::throttle::Subject;
use crate::support::SupportDesk;

/// What opening a reset link shows.
#[derive(Debug)]
pub enum LinkState {
    /// The form to choose a new password.
    Live,
    /// The link is used, expired or never was.
    Dead,
    /// Too many tries from this address: wait this long.
    Throttled(Duration),
}

/// Whether the link `token` is live. Whether a link is live is itself worth
/// guessing at, so opening one is counted per client IP before the lookup
/// (the throttle invariant: the secret is looked at only after
/// `Throttle::reserve_ip`, here): a dead link keeps its count, a live one
/// gives it back.
pub async fn open_reset_link(app: &App, ip: IpAddr, token: &Secret) -> Result<LinkState, AppError> {
    let reservation = match app.throttle.reserve_ip(ip, app.clock.now_ms()).await? {
        Ok(r) => r,
        Err(wait) => return Ok(LinkState::Throttled(wait)),
    };
    if !app.accounts.reset_link_is_live(token).await? {
        reservation.failed();
        return Ok(LinkState::Dead);
    }
    reservation.give_back().await?;
    Ok(LinkState::Live)
}

/// What a reset attempt came to.
#[derive(Debug)]
pub enum Reset {
    /// The password changed; every session and token of the account ended.
    Done,
    /// Too many tries for this link or from this address: wait this long.
    Throttled(Duration),
    /// The link is used, expired or never was.
    DeadLink,
    /// The handle or the new password was refused.
    Refused(Vec<FieldError>),
}

/// Sets a new password through the link `token`, for the account `handle`
/// names. Afterwards every session and refresh token of the account is dead,
/// both addresses get a notice, and the person logs in again (two-factor
/// included).
///
/// Throttle invariant: attempts are counted per link and per client IP with
/// `Throttle::reserve`, here, before anything is checked: a wrong handle or a
/// dead link keeps its count, so of parallel tries only as many as the delays
/// allow are checked, and a guesser of links or handles meets the same
/// growing delays.
pub async fn reset_password(
    app: &Arc<App>,
    ip: IpAddr,
    token: &Secret,
    handle: &str,
    password: Secret,
    confirm: Secret,
) -> Result<Reset, AppError> {
    let subject = Subject::ResetLink(token.expose().to_owned());
    let reservation = match app
        .throttle
        .reserve(&subject, ip, app.clock.now_ms())
        .await?
    {
        Ok(r) => r,
        Err(wait) => return Ok(Reset::Throttled(wait)),
    };
    let result = app
        .accounts
        .reset_password(token, handle, &password, &confirm)
        .await;
    match result {
        Ok(account) => {
            reservation.succeeded().await?;
            let out = SupportDesk::for_server(app)
                .end_everything(account.clone())
                .await;
            tell_both(app, &account, &SecurityChange::PasswordReset);
            if !out.incomplete.is_empty() {
                // The password did change; say so rather than hide that old
                // sessions may live on (the failure is logged).
                return Err(AccountError::Internal(
                    "the password changed, but not every session could be ended".into(),
                )
                .into());
            }
            Ok(Reset::Done)
        }
        Err(AccountError::InvalidLink) => {
            reservation.failed();
            Ok(Reset::DeadLink)
        }
        Err(AccountError::Invalid(errors)) => {
            if errors
                .iter()
                .any(|e| e.problem == FieldProblem::HandleMismatch)
            {
                // A wrong handle for a live link: a guess.
                reservation.failed();
            } else {
                // The link and the handle held (or the handle was left
                // empty); only the new password was refused.
                reservation.give_back().await?;
            }
            Ok(Reset::Refused(errors))
        }
        Err(e) => Err(e.into()),
    }
}

/// A security notice to the primary and, when there is one, the backup address.
fn tell_both(app: &Arc<App>, account: &Account, change: &SecurityChange) {
    crate::seclog::change_later(app, account.id, change, Default::default());
    if let Some(mail) = notify::security_notice(&app.config, account, change) {
        notify::send_later(app, mail);
    }
    if let Some(b) = &account.backup_email {
        notify::send_later(
            app,
            notify::security_notice_to(&app.config, account, b, change),
        );
    }
}
