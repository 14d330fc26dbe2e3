//! Changes the holder makes to how they sign in: the password (the current
//! one first) and the primary email, which changes only once a code mailed
//! to the current address and then a code mailed to the new one were
//! entered.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::email::EmailAddress;
use crate::entity::{account, email_change};
use crate::error::{AccountError, FieldProblem, is_unique_violation};
use crate::recovery::store_password;
use crate::secret::Secret;
use crate::service::{Account, Accounts};

/// How long a mailed code works.
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// How long a whole primary-email change may take.
pub const CHANGE_LIFETIME: Duration = Duration::minutes(30);
/// Wrong codes allowed at each step; the next one cancels the change.
pub const MAX_WRONG_CODES: i32 = 5;

/// Where a pending primary-email change stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailChangeStage {
    /// Waiting for the code mailed to the current primary address.
    Current,
    /// Waiting for the code mailed to the new address.
    New,
}

/// A pending primary-email change, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEmailChange {
    /// The new address.
    pub new_email: String,
    /// The step it waits for.
    pub stage: EmailChangeStage,
    /// When the whole change lapses.
    pub expires_at: DateTime<Utc>,
}

/// What a correct code leads to.
#[derive(Debug)]
pub enum EmailChangeStep {
    /// The first code was right: mail `code` to `new_email`.
    SendToNew {
        /// The new address.
        new_email: EmailAddress,
        /// The second code, to mail to it.
        code: Secret,
    },
    /// The second code was right: the primary address is now the new one.
    Done {
        /// The account as it is now.
        account: Box<Account>,
        /// The former primary address, to tell.
        old_email: Option<String>,
    },
}

/// A fresh 6-digit code and its stored form, `nonce:hash`.
fn new_code() -> (Secret, String) {
    let code = format!("{:06}", OsRng.gen_range(0..1_000_000u32));
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let stored = format!("{nonce}:{}", code_digest(&nonce, &code));
    (Secret::new(code), stored)
}

fn code_digest(nonce: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{nonce}:{code}").as_bytes()))
}

/// Whether `typed` (spaces ignored) is the code stored as `stored`. Digests
/// are compared without an early exit.
fn code_matches(stored: &str, typed: &str) -> bool {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some((nonce, want)) = stored.split_once(':') else {
        return false;
    };
    let got = code_digest(nonce, &typed);
    got.len() == want.len()
        && got
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Accounts {
    /// Changes the password: the current one must be right (a wrong one is
    /// [`AccountError::InvalidCredentials`], which the caller counts like a
    /// login failure), the new one must pass the policy, match its
    /// confirmation and differ from the last five. The caller then ends the
    /// other sessions and sends the notice.
    #[tracing::instrument(skip_all, fields(account = account.id))]
    pub async fn change_password(
        &self,
        account: &Account,
        current: &Secret,
        password: &Secret,
        confirm: &Secret,
    ) -> Result<Account, AccountError> {
        if current.expose().is_empty() {
            return Err(AccountError::field(
                "current_password",
                FieldProblem::Required,
            ));
        }
        self.authenticate(Some(account.clone()), current).await?;
        let hash = self.check_new_password(account, password, confirm).await?;
        let updated = store_password(&self.db, account, hash, self.now()).await?;
        tracing::info!("password changed");
        Ok(updated)
    }

    /// The account's pending primary-email change, if one is live.
    pub async fn pending_email_change(
        &self,
        account_id: i32,
    ) -> Result<Option<PendingEmailChange>, AccountError> {
        Ok(self
            .find_live_change(account_id)
            .await?
            .map(|c| PendingEmailChange {
                new_email: c.new_email,
                stage: if c.stage == "new" {
                    EmailChangeStage::New
                } else {
                    EmailChangeStage::Current
                },
                expires_at: c.expires_at,
            }))
    }

    async fn find_live_change(
        &self,
        account_id: i32,
    ) -> Result<Option<email_change::Model>, AccountError> {
        let row = email_change::Entity::find()
            .filter(email_change::Column::AccountId.eq(account_id))
            .one(&self.db)
            .await?;
        Ok(row.filter(|c| c.expires_at > self.now()))
    }

    /// Starts a primary-email change to `new_email` (cancelling any other):
    /// the address must be valid, differ from the current and the backup
    /// address, and be no account's primary address. Returns the parsed
    /// address and the code to mail to the **current** primary address.
    #[tracing::instrument(skip_all, fields(account = account.id))]
    pub async fn start_email_change(
        &self,
        account: &Account,
        new_email: &str,
    ) -> Result<(EmailAddress, Secret), AccountError> {
        let field = "new_email";
        if new_email.trim().is_empty() {
            return Err(AccountError::field(field, FieldProblem::Required));
        }
        let Some(email) = EmailAddress::parse(new_email) else {
            return Err(AccountError::field(field, FieldProblem::InvalidEmail));
        };
        let lower = email.normalized();
        if account.primary_email_lower.as_deref() == Some(lower.as_str()) {
            return Err(AccountError::field(field, FieldProblem::SameAsCurrent));
        }
        if account.backup_email.as_deref().map(str::to_lowercase) == Some(lower.clone()) {
            return Err(AccountError::field(field, FieldProblem::SameAsBackup));
        }
        let taken = account::Entity::find()
            .filter(account::Column::PrimaryEmailLower.eq(lower.as_str()))
            .one(&self.db)
            .await?
            .is_some();
        if taken {
            return Err(AccountError::field(field, FieldProblem::EmailTaken));
        }
        let now = self.now();
        let (code, stored) = new_code();
        let txn = dbtx::write(&self.db).await?;
        email_change::Entity::delete_many()
            .filter(email_change::Column::AccountId.eq(account.id))
            .exec(&txn)
            .await?;
        email_change::ActiveModel {
            account_id: Set(account.id),
            new_email: Set(email.as_str().to_owned()),
            stage: Set("current".into()),
            code_hash: Set(stored),
            wrong_tries: Set(0),
            code_expires_at: Set(now + CODE_LIFETIME),
            expires_at: Set(now + CHANGE_LIFETIME),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        tracing::info!("primary email change started");
        Ok((email, code))
    }

    /// Cancels the account's pending primary-email change, if any.
    pub async fn cancel_email_change(&self, account_id: i32) -> Result<(), AccountError> {
        email_change::Entity::delete_many()
            .filter(email_change::Column::AccountId.eq(account_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Checks the code of the current step. A wrong code counts; the fifth
    /// wrong one, or an expired code, cancels the change (`code` gets
    /// [`FieldProblem::CodeDead`]). Each code is spent by one conditional
    /// UPDATE or DELETE, so two parallel submissions cannot both use it.
    #[tracing::instrument(skip_all, fields(account = account.id))]
    pub async fn confirm_email_change(
        &self,
        account: &Account,
        typed: &str,
    ) -> Result<EmailChangeStep, AccountError> {
        let Some(c) = self.find_live_change(account.id).await? else {
            return Err(AccountError::field("code", FieldProblem::CodeDead));
        };
        let now = self.now();
        if c.code_expires_at <= now {
            self.cancel_email_change(account.id).await?;
            return Err(AccountError::field("code", FieldProblem::CodeDead));
        }
        if !code_matches(&c.code_hash, typed) {
            let counted = email_change::Entity::update_many()
                .col_expr(
                    email_change::Column::WrongTries,
                    Expr::col(email_change::Column::WrongTries).add(1),
                )
                .filter(email_change::Column::Id.eq(c.id))
                .filter(email_change::Column::CodeHash.eq(c.code_hash.as_str()))
                .exec(&self.db)
                .await?;
            if counted.rows_affected == 1 && c.wrong_tries + 1 >= MAX_WRONG_CODES {
                self.cancel_email_change(account.id).await?;
                return Err(AccountError::field("code", FieldProblem::CodeDead));
            }
            return Err(AccountError::field("code", FieldProblem::WrongCode));
        }
        let Some(new_email) = EmailAddress::parse(&c.new_email) else {
            return Err(AccountError::Internal(
                "stored new address unreadable".into(),
            ));
        };
        if c.stage != "new" {
            let (code, stored) = new_code();
            let spent = email_change::Entity::update_many()
                .col_expr(email_change::Column::Stage, Expr::value("new"))
                .col_expr(email_change::Column::CodeHash, Expr::value(stored))
                .col_expr(email_change::Column::WrongTries, Expr::value(0))
                .col_expr(
                    email_change::Column::CodeExpiresAt,
                    Expr::value(now + CODE_LIFETIME),
                )
                .filter(email_change::Column::Id.eq(c.id))
                .filter(email_change::Column::CodeHash.eq(c.code_hash.as_str()))
                .exec(&self.db)
                .await?;
            if spent.rows_affected != 1 {
                return Err(AccountError::field("code", FieldProblem::CodeDead));
            }
            return Ok(EmailChangeStep::SendToNew { new_email, code });
        }
        let txn = dbtx::write(&self.db).await?;
        let spent = email_change::Entity::delete_many()
            .filter(email_change::Column::Id.eq(c.id))
            .filter(email_change::Column::CodeHash.eq(c.code_hash.as_str()))
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(AccountError::field("code", FieldProblem::CodeDead));
        }
        let Some(current) = account::Entity::find_by_id(account.id).one(&txn).await? else {
            return Err(AccountError::NotFound);
        };
        let old_email = current.primary_email.clone();
        let mut row: account::ActiveModel = current.into();
        row.primary_email = Set(Some(new_email.as_str().to_owned()));
        row.primary_email_lower = Set(Some(new_email.normalized()));
        // The second code proved the holder reads the new address.
        row.primary_email_verified = Set(true);
        row.updated_at = Set(now);
        let updated = match row.update(&txn).await {
            Ok(a) => a,
            // Another account took the address meanwhile: the unique index
            // decides, and nothing changes here.
            Err(e) if is_unique_violation(&e) => {
                return Err(AccountError::field("new_email", FieldProblem::EmailTaken));
            }
            Err(e) => return Err(e.into()),
        };
        txn.commit().await?;
        tracing::info!("primary email changed");
        Ok(EmailChangeStep::Done {
            account: Box::new(updated),
            old_email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_once_typed_and_are_not_stored() {
        let (code, stored) = new_code();
        assert!(!stored.contains(code.expose()));
        assert!(code_matches(&stored, code.expose()));
        let spaced = format!("{} {}", &code.expose()[..3], &code.expose()[3..]);
        assert!(code_matches(&stored, &spaced));
        let wrong = format!(
            "{:06}",
            (code.expose().parse::<u32>().unwrap() + 1) % 1_000_000
        );
        assert!(!code_matches(&stored, &wrong));
        assert!(!code_matches(&stored, "12345"));
        assert!(!code_matches("garbage", code.expose()));
    }
}
