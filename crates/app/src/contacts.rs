//! Service contacts: handing the administrative, technical or billing
//! contact of a service to another customer, and answering such requests.
//!
//! Asking never tells whether a handle exists: a well-formed handle of no
//! other customer gets the answer a real one gets (and the same security-log
//! line), only a real holder is asked, and requests are limited per client
//! address and per handle asked ([`crate::limits`]) before any lookup.

use std::net::IpAddr;

use accounts::contacts::{Asked, Delegation};
use accounts::{Account, EventKind};

use crate::error::AppError;
use crate::limits::{self, Purpose};
use crate::seclog::{self, Origin};
use crate::services::App;

/// What a request asks: a service, a contact role, the handle asked.
pub struct Request<'a> {
    /// The service.
    pub service: &'a str,
    /// The contact role (administrative, technical, billing).
    pub role: &'a str,
    /// The handle of the customer asked.
    pub handle: &'a str,
}

/// The account's delegations, asked and received.
pub async fn list(app: &App, account_id: i32) -> Result<Vec<Delegation>, AppError> {
    Ok(app.accounts.contacts_of(account_id).await?)
}

/// Asks another customer to take a contact role, after the request limits.
pub async fn request(
    app: &App,
    account: &Account,
    ip: IpAddr,
    origin: &Origin,
    r: Request<'_>,
) -> Result<Asked, AppError> {
    limits::admit(
        &*app.store,
        &app.config.rates,
        Purpose::ContactRequest,
        ip,
        r.handle,
    )
    .await?;
    let asked = app
        .accounts
        .request_delegation(account.id, r.service, r.role, r.handle)
        .await?;
    // From what the requester typed: the same whether or not the handle
    // has a holder.
    let detail = format!(
        "asked: {} {} {} -> {}",
        asked.service,
        asked.role.as_str(),
        account.handle,
        asked.to_handle.as_str()
    );
    seclog::record(
        app,
        account.id,
        None,
        EventKind::ContactChanged,
        &detail,
        origin,
    )
    .await;
    Ok(asked)
}

/// The answer to a request: `accept` or `refuse`; `None` for anything else.
pub fn decision(word: &str) -> Option<bool> {
    match word {
        "accept" => Some(true),
        "refuse" => Some(false),
        _ => None,
    }
}

/// Accepts or refuses a request made to the account.
pub async fn answer(app: &App, account_id: i32, id: i32, accept: bool) -> Result<(), AppError> {
    Ok(app
        .accounts
        .answer_delegation(account_id, id, accept)
        .await?)
}

/// Withdraws a request the account made.
pub async fn cancel(app: &App, account_id: i32, id: i32) -> Result<(), AppError> {
    Ok(app.accounts.cancel_delegation(account_id, id).await?)
}

#[cfg(test)]
mod tests {
    use super::decision;

    #[test]
    fn only_two_words_decide() {
        assert_eq!(decision("accept"), Some(true));
        assert_eq!(decision("refuse"), Some(false));
        assert_eq!(decision("Accept"), None);
        assert_eq!(decision(""), None);
    }
}
