//! The ways back in: "I don't know my customer handle", "forgot password"
//! and its reset link (`request`, `reset`), and naming a backup address
//! (`backup`).
//!
//! The two request forms answer the same, at the same speed, whatever was
//! typed: the lookup and the mail happen in a background task after the
//! answer is decided, so neither the page nor its timing tells whether an
//! account exists.

mod backup;
mod request;
mod reset;

pub use backup::{BackupCode, BackupConfirm, confirm_backup, request_backup_code};
pub use request::{Request, forgot_handle, forgot_password};
pub use reset::{LinkState, Reset, open_reset_link, reset_password};

use std::time::Duration;

use crate::services::App;

/// Recovery mails per account per hour: asking again and again sends no more.
pub const MAILS_PER_ACCOUNT: i64 = 5;

/// The window of the per-IP count of password-reset requests, and the wait
/// a refused request is told.
pub const WINDOW: Duration = Duration::from_secs(900);

/// Whether another recovery mail may go to this account this hour.
async fn account_allows(app: &App, account_id: i32) -> bool {
    let key = format!("recover:acct:{account_id}");
    match app.store.incr(&key, Duration::from_secs(3600)).await {
        Ok(n) => n <= MAILS_PER_ACCOUNT,
        Err(e) => {
            tracing::error!(error = %e, "recovery mail counter unavailable");
            false
        }
    }
}
