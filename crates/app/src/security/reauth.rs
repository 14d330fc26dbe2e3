//! Re-authentication before a security change: the password again, then the
//! second factor when the person has one.

use std::net::IpAddr;
use std::time::Duration;

use accounts::{AccountError, Secret};

use super::{Actor, replace_session};
use crate::error::AppError;
use crate::services::App;
use crate::session::throttle::Subject;
use crate::session::{SessionData, random_token};

/// What a re-authentication came to.
#[derive(Debug)]
pub enum Reauth {
    /// Too many recent failures: try again after this wait.
    Throttled(Duration),
    /// The password was wrong.
    WrongPassword,
    /// The password held: a new session whose password is fresh. When
    /// `second_factor_due`, the second factor is asked next and adds itself
    /// back to the session.
    Done {
        /// The new session's id.
        session_id: String,
        /// Whether the person has two-factor and must prove it next.
        second_factor_due: bool,
    },
}

/// Checks the password of the person acting (the holder's, or the local
/// user's own).
///
/// Throttle invariant: the password is checked only after
/// `Throttle::reserve` granted a reservation, here.
pub async fn reauth(
    app: &App,
    actor: &Actor<'_>,
    ip: IpAddr,
    password: String,
) -> Result<Reauth, AppError> {
    let subject = match actor.user_id {
        None => Subject::Account(actor.account.id),
        Some(u) => Subject::User(u),
    };
    let reservation = match app
        .throttle
        .reserve(&subject, ip, app.clock.now_ms())
        .await?
    {
        Ok(r) => r,
        Err(wait) => return Ok(Reauth::Throttled(wait)),
    };
    let password = Secret::new(password);
    let account = Some(actor.account.clone());
    let checked = match actor.user_id {
        None => app
            .accounts
            .authenticate(account, &password)
            .await
            .map(|_| ()),
        Some(uid) => {
            let user = app.accounts.find_user(actor.account.id, uid).await?;
            app.accounts
                .authenticate_user(account, user, &password)
                .await
                .map(|_| ())
        }
    };
    match checked {
        Ok(()) => {
            reservation.succeeded().await?;
            let now = app.clock.now_secs();
            let second_factor_due = app.mfa.is_enabled(&actor.identity).await?;
            let data = SessionData {
                auth_time: now,
                last_seen: now,
                amr: vec!["pwd".into()],
                csrf: random_token(),
                ..actor.data.clone()
            };
            let session_id = replace_session(app, actor.session_id, &data).await?;
            Ok(Reauth::Done {
                session_id,
                second_factor_due,
            })
        }
        Err(AccountError::InvalidCredentials) => {
            reservation.failed();
            Ok(Reauth::WrongPassword)
        }
        Err(e) => Err(e.into()),
    }
}
