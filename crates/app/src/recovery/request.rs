//! The two request forms: the handle mailed to a primary address, and a
//! reset link mailed for a handle or an address.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use accounts::{AccountError, EmailAddress, Identifier};

use super::{WINDOW, account_allows};
use crate::error::{AppError, database_unavailable};
use crate::limits::{self, Purpose};
use crate::notify;
use crate::services::App;

/// Password-reset requests per client IP per window (the forgotten-handle
/// form has its own limits, in [`crate::limits`]).
const REQUESTS_PER_IP: i64 = 20;

/// What a request form answers (the same whether an account matched).
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// "Sent", whatever happens next in the background.
    Accepted,
    /// What was typed cannot name an account.
    Unreadable,
    /// Too many requests from this address (see [`WINDOW`]).
    TooMany,
    /// The database does not answer: a "sent" would be a lie.
    DatabaseDown,
}

/// Waits before each new try of a request's background work while the
/// database cannot be reached: the form checked it answered a moment ago, so
/// an outage starting just then delays the mail rather than losing it.
const BACKGROUND_PATIENCE: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
];

/// Runs `work`, again while the database cannot be reached (see
/// [`BACKGROUND_PATIENCE`]); `None`, logged, when it fails for good.
async fn patiently<T, F, Fut>(what: &str, mut work: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AccountError>>,
{
    let mut waits = BACKGROUND_PATIENCE.iter();
    loop {
        match work().await {
            Ok(v) => return Some(v),
            Err(AccountError::Database(e)) if database_unavailable(&e) => {
                let Some(wait) = waits.next() else {
                    tracing::error!(error = %e, what, "given up: database unreachable");
                    return None;
                };
                tokio::time::sleep(*wait).await;
            }
            Err(e) => {
                tracing::error!(error = %e, what, "failed");
                return None;
            }
        }
    }
}

/// `POST /forgot-handle`: mails the handle to the account whose primary
/// address `email` is, if any. `database_up` is awaited once the request is
/// admitted: one round trip, the same whatever was typed, so that a database
/// that is down gives an honest refusal instead of a "sent" for a mail that
/// cannot be queued.
pub async fn forgot_handle(
    app: &Arc<App>,
    ip: IpAddr,
    email: &str,
    database_up: impl Future<Output = bool>,
) -> Result<Request, AppError> {
    let Some(email) = EmailAddress::parse(email).filter(|_| email.len() <= 254) else {
        return Ok(Request::Unreadable);
    };
    // Counted per address and per email typed, whether or not an account
    // has it, before the lookup: the refusal tells nothing either.
    let rates = &app.config.rates;
    limits::admit(
        &*app.store,
        rates,
        Purpose::ForgotHandle,
        ip,
        email.as_str(),
    )
    .await?;
    if !database_up.await {
        return Ok(Request::DatabaseDown);
    }
    let bg = app.clone();
    tokio::spawn(async move {
        let id = Identifier::Email(email);
        let found = patiently("handle reminder lookup", || bg.accounts.find(&id)).await;
        if let Some(Some(a)) = found
            && a.status == accounts::AccountStatus::Active
            && account_allows(&bg, a.id).await
            && let Some(mail) = notify::handle_reminder(&bg.config, &a)
        {
            notify::send_later(&bg, mail);
        }
    });
    Ok(Request::Accepted)
}

/// Starts a reset for whatever account `id` names and mails the link; does
/// nothing for an unknown one.
async fn send_reset_link(app: &App, id: &Identifier) -> Result<bool, AccountError> {
    let Some(link) = app.accounts.request_password_reset(id).await? else {
        return Ok(false);
    };
    if let Some(mail) = notify::reset_link(&app.config, &link) {
        notify::send_later(app, mail);
    }
    Ok(true)
}

/// Whether this IP may make another reset request now.
async fn ip_allows(app: &App, ip: IpAddr) -> Result<bool, AppError> {
    let n = app.store.incr(&format!("recover:ip:{ip}"), WINDOW).await?;
    Ok(n <= REQUESTS_PER_IP)
}

/// `POST /forgot-password`: mails a reset link to the account `identifier`
/// names (a handle or an address), if any; `database_up` as in
/// [`forgot_handle`].
pub async fn forgot_password(
    app: &Arc<App>,
    ip: IpAddr,
    identifier: String,
    database_up: impl Future<Output = bool>,
) -> Result<Request, AppError> {
    if identifier.trim().is_empty() || identifier.len() > 254 {
        return Ok(Request::Unreadable);
    }
    if !ip_allows(app, ip).await? {
        return Ok(Request::TooMany);
    }
    if !database_up.await {
        return Ok(Request::DatabaseDown);
    }
    let bg = app.clone();
    tokio::spawn(async move {
        let Some(id) = Identifier::parse(&identifier) else {
            return;
        };
        let Some(Some(account)) = patiently("reset lookup", || bg.accounts.find(&id)).await else {
            return;
        };
        if !account_allows(&bg, account.id).await {
            tracing::info!(account = account.id, "reset mail limit reached");
            return;
        }
        patiently("reset link", || send_reset_link(&bg, &id)).await;
    });
    Ok(Request::Accepted)
}
