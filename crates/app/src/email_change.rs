//! The holder changes the primary address: a code goes to the current
//! address first, then a second one to the new address; the address changes
//! only when both were entered, and the old address is told.

use std::sync::Arc;

use accounts::{Account, EmailChangeStep, PendingEmailChange};

use crate::error::AppError;
use crate::notify::{self, EmailCodePurpose, SecurityChange};
use crate::seclog::{self, Origin};
use crate::services::App;

/// The change under way, if any.
pub async fn pending(app: &App, account_id: i32) -> Result<Option<PendingEmailChange>, AppError> {
    Ok(app.accounts.pending_email_change(account_id).await?)
}

/// Starts a change and mails the first code to the current address.
pub async fn start(app: &App, account: &Account, new_email: &str) -> Result<(), AppError> {
    let (_, code) = app.accounts.start_email_change(account, new_email).await?;
    if let Some(current) = account.primary_email.as_deref() {
        let mail = notify::email_code(
            &app.config,
            account,
            current,
            EmailCodePurpose::CurrentPrimaryForChange,
            code.expose(),
            accounts::changes::CODE_LIFETIME.num_minutes(),
        );
        notify::queue(app, mail).await?;
    }
    Ok(())
}

/// Enters a code. After the first, the second code goes to the new address;
/// after the second, the old address is told and the security log written.
pub async fn confirm(
    app: &Arc<App>,
    account: &Account,
    code: &str,
    origin: Origin,
) -> Result<EmailChangeStep, AppError> {
    let step = app.accounts.confirm_email_change(account, code).await?;
    match &step {
        EmailChangeStep::SendToNew { new_email, code } => notify::send_later(
            app,
            notify::email_code(
                &app.config,
                account,
                new_email.as_str(),
                EmailCodePurpose::PrimaryEmail,
                code.expose(),
                accounts::changes::CODE_LIFETIME.num_minutes(),
            ),
        ),
        EmailChangeStep::Done { account, old_email } => {
            let change = SecurityChange::PrimaryEmailChanged {
                email: account.primary_email.clone().unwrap_or_default(),
            };
            if let Some(old) = old_email {
                notify::send_later(
                    app,
                    notify::security_notice_to(&app.config, account, old, &change),
                );
            }
            seclog::change_later(app, account.id, &change, origin);
        }
    }
    Ok(step)
}

/// Drops the change under way.
pub async fn cancel(app: &App, account_id: i32) -> Result<(), AppError> {
    Ok(app.accounts.cancel_email_change(account_id).await?)
}
