//! Naming a backup address: a code mailed to it, then typed back.

use std::sync::Arc;
use std::time::Duration;

use accounts::{Account, AccountError, EmailAddress, FieldError};
use mfa::OneTimeCode;
use serde::{Deserialize, Serialize};

use super::MAILS_PER_ACCOUNT;
use crate::error::AppError;
use crate::notify::{self, EmailCodePurpose, SecurityChange};
use crate::services::App;

/// The backup-address code's lifetime.
const BACKUP_CODE_TTL_SECS: i64 = 600;

/// Wrong codes after which a pending address is dropped.
const WRONG_CODES: u32 = 5;

/// A backup address waiting for its code.
#[derive(Serialize, Deserialize)]
struct PendingBackup {
    email: String,
    code: String,
    wrong: u32,
}

fn backup_key(account_id: i32) -> String {
    format!("backupcode:{account_id}")
}

/// What asking for a backup address came to.
#[derive(Debug)]
pub enum BackupCode {
    /// The address was refused.
    Refused(Vec<FieldError>),
    /// Enough codes went out this hour; none was sent.
    TooMany(EmailAddress),
    /// A code went to the address.
    Sent(EmailAddress),
}

/// Checks the address `raw` and mails it a code to type back.
pub async fn request_backup_code(
    app: &Arc<App>,
    account: &Account,
    raw: &str,
) -> Result<BackupCode, AppError> {
    let email = match app.accounts.check_backup_email(account, raw) {
        Ok(e) => e,
        Err(AccountError::Invalid(errors)) => return Ok(BackupCode::Refused(errors)),
        Err(e) => return Err(e.into()),
    };
    let sends_key = format!("backupcode:sends:{}", account.id);
    let sends = app
        .store
        .incr(&sends_key, Duration::from_secs(3600))
        .await?;
    if sends > MAILS_PER_ACCOUNT {
        return Ok(BackupCode::TooMany(email));
    }
    let (code, stored) = OneTimeCode::issue(app.clock.now_secs(), BACKUP_CODE_TTL_SECS);
    let pending = PendingBackup {
        email: email.as_str().to_owned(),
        code: stored.encode(),
        wrong: 0,
    };
    let ttl = Duration::from_secs(BACKUP_CODE_TTL_SECS as u64);
    let json = serde_json::to_string(&pending).unwrap_or_default();
    app.store.set(&backup_key(account.id), &json, ttl).await?;
    let mail = notify::email_code(
        &app.config,
        account,
        email.as_str(),
        EmailCodePurpose::BackupEmail,
        &code,
        BACKUP_CODE_TTL_SECS / 60,
    );
    notify::queue(app, mail).await?;
    Ok(BackupCode::Sent(email))
}

/// What typing back a backup address's code came to.
#[derive(Debug)]
pub enum BackupConfirm {
    /// No address waits for a code (or it could not be read).
    NothingPending,
    /// A wrong code for `email`; `dead` when the address no longer waits
    /// (too many wrong codes, or the code expired).
    Wrong {
        /// The address waiting.
        email: String,
        /// Whether it has to be asked for again.
        dead: bool,
    },
    /// The code held but the address was refused by then.
    Refused {
        /// The address.
        email: String,
        /// Why.
        errors: Vec<FieldError>,
    },
    /// The address is the backup now; both it and the former one were told.
    Done,
}

/// Checks `code` against the address waiting for it and, when it holds,
/// makes that address the account's backup.
pub async fn confirm_backup(
    app: &Arc<App>,
    account: &Account,
    code: &str,
) -> Result<BackupConfirm, AppError> {
    // Taken, so two parallel submissions cannot both use it.
    let Some(json) = app.store.take(&backup_key(account.id)).await? else {
        return Ok(BackupConfirm::NothingPending);
    };
    let Ok(mut pending) = serde_json::from_str::<PendingBackup>(&json) else {
        return Ok(BackupConfirm::NothingPending);
    };
    let now = app.clock.now_secs();
    let stored = OneTimeCode::decode(&pending.code);
    if !stored.as_ref().is_some_and(|c| c.matches(code, now)) {
        pending.wrong += 1;
        let left = stored.map(|c| c.seconds_left(now)).unwrap_or(0);
        let dead = pending.wrong >= WRONG_CODES || left == 0;
        if !dead {
            let json = serde_json::to_string(&pending).unwrap_or_default();
            let ttl = Duration::from_secs(left);
            app.store.set(&backup_key(account.id), &json, ttl).await?;
        }
        return Ok(BackupConfirm::Wrong {
            email: pending.email,
            dead,
        });
    }
    let email = EmailAddress::parse(&pending.email)
        .ok_or_else(|| AccountError::Internal("stored backup address unreadable".into()))?;
    let updated = match app.accounts.set_backup_email(account.id, &email).await {
        Ok(a) => a,
        Err(AccountError::Invalid(errors)) => {
            let email = pending.email;
            return Ok(BackupConfirm::Refused { email, errors });
        }
        Err(e) => return Err(e.into()),
    };
    let change = SecurityChange::BackupEmailSet {
        email: email.as_str().to_owned(),
    };
    crate::seclog::change_later(app, updated.id, &change, Default::default());
    if let Some(mail) = notify::security_notice(&app.config, &updated, &change) {
        notify::send_later(app, mail);
    }
    // The former backup, if any, hears of its replacement too.
    if let Some(old) = account
        .backup_email
        .as_deref()
        .filter(|o| !o.eq_ignore_ascii_case(email.as_str()))
    {
        notify::send_later(
            app,
            notify::security_notice_to(&app.config, &updated, old, &change),
        );
    }
    Ok(BackupConfirm::Done)
}
