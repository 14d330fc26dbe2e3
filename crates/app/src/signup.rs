//! Sign-up, for the form and its JSON twin alike.
//!
//! Neither tells whether an address already has an account: once every field
//! is valid, a sign-up naming a taken primary email gets the very answer a
//! new one gets, and the difference reaches only the address's mailbox (the
//! welcome mail with the new handle, or a notice to the holder).

use std::net::IpAddr;

use accounts::{Signup, SignupRequest};

use crate::error::AppError;
use crate::limits::{self, Purpose};
use crate::notify;
use crate::services::App;

/// Counts the sign-up against the limits (per client address and per
/// email) before any work, creates the account, and mails the outcome.
/// Invalid fields come back as `AppError::Account(AccountError::Invalid)`;
/// a refused request costs one counter and nothing else.
pub async fn sign_up(app: &App, ip: IpAddr, req: SignupRequest) -> Result<Signup, AppError> {
    let rates = &app.config.rates;
    limits::admit(&*app.store, rates, Purpose::Signup, ip, &req.primary_email).await?;
    let outcome = app.accounts.signup(req).await?;
    match &outcome {
        Signup::Created(created) => {
            notify::send_later(app, notify::welcome(&app.config, created));
        }
        Signup::AddressTaken(taken) => {
            if let Some(mail) = notify::signup_attempt(&app.config, &taken.owner) {
                notify::send_later(app, mail);
            }
        }
    }
    Ok(outcome)
}
