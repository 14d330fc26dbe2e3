//! The password step of a login: who is named, the throttle, the password,
//! and what comes next (a second factor, a mailed code, or the session).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use accounts::{Account, AccountError, Identifier, Secret};

use crate::error::AppError;
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::SessionData;
use crate::session::throttle::Subject;

/// A login form as sent.
pub struct Attempt<'a> {
    /// A handle, an address, or `<handle>/<login>` for a local user (already
    /// cut to a sane length).
    pub identifier: &'a str,
    /// The password typed.
    pub password: Secret,
    /// Where to go once signed in (already checked to be a local path).
    pub next: &'a str,
    /// The client's address.
    pub ip: IpAddr,
    /// The browser.
    pub user_agent: &'a str,
    /// The browser's device cookie, if any.
    pub device: Option<&'a str>,
    /// The session this browser had, ended by any login that gets past the
    /// password.
    pub old_session: Option<&'a str>,
}

/// What the password step came to.
#[derive(Debug)]
pub enum PasswordStep {
    /// Too many failures lately: wait this long.
    Throttled(Duration),
    /// Unknown identifier, wrong password or disabled account: one answer
    /// for all.
    Failed,
    /// The second step is due; the pending login is named by this token
    /// ([`crate::second_factor::begin`]).
    SecondFactorDue(String),
    /// A mailed code is due; the pending login is named by this token
    /// ([`crate::email_code::begin`]).
    EmailCodeDue(String),
    /// Signed in: the session to open ([`crate::sign_in::complete`]).
    Ready {
        /// The account.
        account: Box<Account>,
        /// The session to open.
        data: Box<SessionData>,
    },
}

/// Checks a login's password and decides what comes next.
///
/// Throttle invariant: the attempt is reserved with `Throttle::reserve`,
/// here, before the password is checked: of parallel guesses only as many as
/// the delays allow get that far.
pub async fn password_step(app: &Arc<App>, a: Attempt<'_>) -> Result<PasswordStep, AppError> {
    let parsed = Identifier::parse(a.identifier);
    let account = match &parsed {
        Some(id) => app.accounts.find(id).await?,
        None => None,
    };
    // `<code>/<ID>` and `<handle>/<ID>` name a local user of the account.
    let user_login = match &parsed {
        Some(Identifier::User { login, .. }) => Some(login),
        _ => None,
    };
    let user = match (user_login, &account) {
        (Some(login), Some(acc)) => app.accounts.find_user_by_login(acc.id, login).await?,
        _ => None,
    };
    let subject = match (&account, &user) {
        (_, Some(u)) => Subject::User(u.id),
        (Some(acc), None) if user_login.is_none() => Subject::Account(acc.id),
        _ => Subject::Unknown(a.identifier.to_owned()),
    };
    let reservation = match app
        .throttle
        .reserve(&subject, a.ip, app.clock.now_ms())
        .await?
    {
        Ok(r) => r,
        Err(wait) => {
            tracing::info!(ip = %a.ip, "login refused: throttled");
            return Ok(PasswordStep::Throttled(wait));
        }
    };
    // Failures go to the account's security log, except for erased
    // accounts, which keep nothing personal (an IP is personal).
    let logged_account = account
        .as_ref()
        .filter(|acc| acc.status != accounts::AccountStatus::Erased)
        .map(|acc| acc.id);
    let logged_user = user.as_ref().map(|u| u.id);
    let checked = if user_login.is_some() {
        // Same work and same answer as the holder's login: one full hash
        // whether or not the account and the user exist.
        app.accounts
            .authenticate_user(account, user, &a.password)
            .await
            .map(|(acc, u)| (acc, Some(u)))
    } else {
        app.accounts
            .authenticate(account, &a.password)
            .await
            .map(|acc| (acc, None))
    };
    match checked {
        Ok((account, user)) => {
            let had_failures = reservation.prior_failures() > 0;
            reservation.succeeded().await?;
            // Whatever comes next, any earlier session of this browser ends.
            if let Some(old) = a.old_session {
                app.sessions.destroy(old).await?;
            }
            next_step(app, &a, account, user, had_failures).await
        }
        Err(AccountError::InvalidCredentials) => {
            reservation.failed();
            if let Some(id) = logged_account {
                // Off the request path: an unknown account must cost the same.
                let origin = Origin::new(a.ip, a.user_agent);
                let kind = accounts::EventKind::LoginFailed;
                seclog::record_later(app, id, logged_user, kind, String::new(), origin);
            }
            tracing::info!(ip = %a.ip, "login failed");
            Ok(PasswordStep::Failed)
        }
        Err(e) => Err(e.into()),
    }
}

/// After a right password: the second step when the person has two-factor
/// (the password alone opens nothing), a mailed code on a risky login (to
/// the holder at the primary address, a local user at their own), else the
/// session.
async fn next_step(
    app: &App,
    a: &Attempt<'_>,
    account: Account,
    user: Option<accounts::LocalUser>,
    had_failures: bool,
) -> Result<PasswordStep, AppError> {
    let user_id = user.as_ref().map(|u| u.id);
    let (ip, ua) = (a.ip.to_string(), a.user_agent.to_owned());
    let identity = crate::twofactor::identity_of(account.id, user_id);
    if app.mfa.is_enabled(&identity).await? {
        tracing::info!(handle = %account.handle, ip = %a.ip, "password accepted, second factor due");
        let token = crate::second_factor::begin(app, account.id, user_id, a.next, ip, ua).await?;
        return Ok(PasswordStep::SecondFactorDue(token));
    }
    let due = crate::email_code::is_due(app, &account, user.as_ref(), a.device, had_failures);
    if due.await? {
        tracing::info!(handle = %account.handle, ip = %a.ip, "password accepted, email code due");
        let token = crate::email_code::begin(app, &account, user.as_ref(), a.next, ip, ua).await?;
        return Ok(PasswordStep::EmailCodeDue(token));
    }
    let now = app.clock.now_secs();
    let data = SessionData::opened(account.id, user_id, now, vec!["pwd".into()], ip, ua);
    tracing::info!(handle = %account.handle, ip = %a.ip, "login succeeded");
    Ok(PasswordStep::Ready {
        account: Box::new(account),
        data: Box::new(data),
    })
}
