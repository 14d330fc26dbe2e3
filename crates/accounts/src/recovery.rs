//! Getting back into an account: password-reset links, the password history,
//! the devices an account logged in from, backup-address changes, and the
//! support actions that fix a lost address or phone.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use sha2::{Digest, Sha256};

use crate::entity::account::AccountStatus;
use crate::entity::{account, known_device, password_history, password_reset, support_action};
use crate::error::{AccountError, FieldProblem, is_unique_violation};
use crate::identifier::Identifier;
use crate::secret::Secret;
use crate::service::{Account, Accounts};
use crate::verification::{new_token, token_hash};
use crate::{CustomerHandle, EmailAddress};

/// How long a reset link works.
pub const RESET_LIFETIME: Duration = Duration::hours(1);

/// How many earlier passwords a new one must differ from.
pub const PASSWORD_HISTORY: u64 = 5;

/// What a reset request produced, for the caller to mail.
#[derive(Debug)]
pub struct ResetLink {
    /// The account, for the address and language.
    pub account: Account,
    /// The token for the link; only its hash is stored.
    pub token: Secret,
}

/// A support action, for the audit trail.
#[derive(Clone, Debug)]
pub struct SupportCase {
    /// The operator's name (from their token).
    pub operator: String,
    /// The support ticket.
    pub case_ref: String,
}

impl SupportCase {
    /// Checks the case reference: required, printable, at most 64 characters.
    pub fn new(operator: &str, case_ref: &str) -> Result<Self, AccountError> {
        let c = case_ref.trim();
        if c.is_empty() {
            return Err(AccountError::field("case_ref", FieldProblem::Required));
        }
        if c.chars().count() > 64 {
            return Err(AccountError::field(
                "case_ref",
                FieldProblem::TooLong { max: 64 },
            ));
        }
        if c.chars().any(char::is_control) {
            return Err(AccountError::field("case_ref", FieldProblem::BadCharacters));
        }
        Ok(Self {
            operator: operator.to_owned(),
            case_ref: c.to_owned(),
        })
    }
}

/// One line of the support audit trail.
pub type SupportAction = support_action::Model;

/// The stored form of a device cookie.
fn device_hash(device: &str) -> String {
    hex::encode(Sha256::digest(device.as_bytes()))
}

fn shorten(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl Accounts {
    /// Starts a password reset for an active account named by handle or
    /// primary email. `None` when nothing matches: the caller answers the same
    /// either way, and runs this off the request path so timing tells nothing.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        id: &Identifier,
    ) -> Result<Option<ResetLink>, AccountError> {
        let Some(account) = self.find(id).await? else {
            return Ok(None);
        };
        if account.status != AccountStatus::Active || account.primary_email.is_none() {
            return Ok(None);
        }
        let now = self.now();
        let token = new_token();
        password_reset::ActiveModel {
            account_id: Set(account.id),
            token_hash: Set(token_hash(&token)),
            created_at: Set(now),
            expires_at: Set(now + RESET_LIFETIME),
            used_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(Some(ResetLink { account, token }))
    }

    /// Whether a reset link would work now (for showing the form or a clear
    /// "this link has expired" page before the person types anything).
    pub async fn reset_link_is_live(&self, token: &Secret) -> Result<bool, AccountError> {
        Ok(self.find_live_reset(token).await?.is_some())
    }

    async fn find_live_reset(
        &self,
        token: &Secret,
    ) -> Result<Option<password_reset::Model>, AccountError> {
        let now = self.now();
        Ok(password_reset::Entity::find()
            .filter(password_reset::Column::TokenHash.eq(token_hash(token)))
            .filter(password_reset::Column::UsedAt.is_null())
            .filter(password_reset::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?)
    }

    /// Uses a reset link: the person names their handle (as the provider's
    /// guide asks) and the new password twice. Everything is checked before
    /// the link is spent; spending it is one conditional UPDATE, so of two
    /// parallel uses one wins. Every other reset link of the account dies
    /// with it. The caller then ends sessions and tokens and sends notices.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token: &Secret,
        handle: &str,
        password: &Secret,
        confirm: &Secret,
    ) -> Result<Account, AccountError> {
        let Some(link) = self.find_live_reset(token).await? else {
            return Err(AccountError::InvalidLink);
        };
        let Some(account) = self.find_by_id(link.account_id).await? else {
            return Err(AccountError::InvalidLink);
        };
        if account.status != AccountStatus::Active {
            return Err(AccountError::InvalidLink);
        }
        let named = CustomerHandle::parse(handle);
        if handle.trim().is_empty() {
            return Err(AccountError::field("handle", FieldProblem::Required));
        }
        if named.as_ref().map(|h| h.as_str()) != Some(account.handle.as_str()) {
            return Err(AccountError::field("handle", FieldProblem::HandleMismatch));
        }
        let hash = self.check_new_password(&account, password, confirm).await?;

        let now = self.now();
        let txn = dbtx::write(&self.db).await?;
        let spent = password_reset::Entity::update_many()
            .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
            .filter(password_reset::Column::Id.eq(link.id))
            .filter(password_reset::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(AccountError::InvalidLink);
        }
        // The other links of this account go too: a reset ends the episode.
        password_reset::Entity::update_many()
            .col_expr(password_reset::Column::UsedAt, Expr::value(Some(now)))
            .filter(password_reset::Column::AccountId.eq(account.id))
            .filter(password_reset::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        let updated = store_password(&txn, &account, hash, now).await?;
        txn.commit().await?;
        tracing::info!(account = account.id, "password reset");
        Ok(updated)
    }

    /// Checks a new password: the policy (with the holder's personal data),
    /// the confirmation, and none of the last five passwords. Returns its hash.
    pub async fn check_new_password(
        &self,
        account: &Account,
        password: &Secret,
        confirm: &Secret,
    ) -> Result<String, AccountError> {
        let email_local = account
            .primary_email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .unwrap_or("");
        let personal = [
            account.first_name.as_str(),
            account.last_name.as_str(),
            account.handle.as_str(),
            email_local,
        ];
        self.policy
            .check(password, &personal)
            .map_err(|p| AccountError::field("password", p))?;
        if password.expose() != confirm.expose() {
            return Err(AccountError::field(
                "password_confirm",
                FieldProblem::PasswordMismatch,
            ));
        }
        let mut earlier: Vec<String> = password_history::Entity::find()
            .filter(password_history::Column::AccountId.eq(account.id))
            .order_by_desc(password_history::Column::Id)
            .limit(PASSWORD_HISTORY - 1)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|h| h.password_hash)
            .collect();
        if let Some(current) = &account.password_hash {
            earlier.insert(0, current.clone());
        }
        for h in &earlier {
            if self.hasher.verify(password, Some(h)).await? {
                return Err(AccountError::field(
                    "password",
                    FieldProblem::PasswordReused {
                        count: PASSWORD_HISTORY as usize,
                    },
                ));
            }
        }
        self.hasher.hash(password).await
    }

    /// Whether `device` (the device cookie) completed a login to this account
    /// before.
    pub async fn is_known_device(
        &self,
        account_id: i32,
        device: &str,
    ) -> Result<bool, AccountError> {
        Ok(known_device::Entity::find()
            .filter(known_device::Column::AccountId.eq(account_id))
            .filter(known_device::Column::DeviceHash.eq(device_hash(device)))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Records a completed login from `device`; returns whether the device was
    /// new to the account.
    pub async fn remember_device(
        &self,
        account_id: i32,
        device: &str,
        user_agent: &str,
    ) -> Result<bool, AccountError> {
        let now = self.now();
        let hash = device_hash(device);
        let seen = known_device::Entity::update_many()
            .col_expr(known_device::Column::LastSeenAt, Expr::value(now))
            .filter(known_device::Column::AccountId.eq(account_id))
            .filter(known_device::Column::DeviceHash.eq(hash.clone()))
            .exec(&self.db)
            .await?;
        if seen.rows_affected > 0 {
            return Ok(false);
        }
        let row = known_device::ActiveModel {
            account_id: Set(account_id),
            device_hash: Set(hash),
            user_agent: Set(shorten(user_agent, 255)),
            created_at: Set(now),
            last_seen_at: Set(now),
            ..Default::default()
        };
        match row.insert(&self.db).await {
            Ok(_) => Ok(true),
            // A parallel login from the same device recorded it first.
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Turns login notifications on or off.
    pub async fn set_login_notifications(
        &self,
        account_id: i32,
        on: bool,
    ) -> Result<Account, AccountError> {
        self.update_account(account_id, |row| {
            row.login_notifications = Set(on);
        })
        .await
    }

    /// Checks a new backup address for an account: valid, and not its
    /// primary address. The caller confirms it by a code before storing it.
    pub fn check_backup_email(
        &self,
        account: &Account,
        input: &str,
    ) -> Result<EmailAddress, AccountError> {
        if input.trim().is_empty() {
            return Err(AccountError::field("backup_email", FieldProblem::Required));
        }
        if input.len() > 254 {
            return Err(AccountError::field(
                "backup_email",
                FieldProblem::TooLong { max: 254 },
            ));
        }
        let Some(email) = EmailAddress::parse(input) else {
            return Err(AccountError::field(
                "backup_email",
                FieldProblem::InvalidEmail,
            ));
        };
        if account.primary_email_lower.as_deref() == Some(email.normalized().as_str()) {
            return Err(AccountError::field(
                "backup_email",
                FieldProblem::BackupSameAsPrimary,
            ));
        }
        Ok(email)
    }

    /// Stores a backup address whose code the holder entered, and lifts the
    /// "set a new backup" requirement.
    pub async fn set_backup_email(
        &self,
        account_id: i32,
        email: &EmailAddress,
    ) -> Result<Account, AccountError> {
        let Some(account) = self.find_by_id(account_id).await? else {
            return Err(AccountError::NotFound);
        };
        // Checked again: the primary may have changed while the code travelled.
        let email = self.check_backup_email(&account, email.as_str())?;
        self.update_account(account_id, |row| {
            row.backup_email = Set(Some(email.as_str().to_owned()));
            row.must_set_backup = Set(false);
        })
        .await
    }

    /// Support, after the customer called: the backup address becomes the
    /// primary one (verified: the customer reads it), the old primary is
    /// dropped, and the account must name a new backup at its next login.
    pub async fn promote_backup_email(
        &self,
        id: &Identifier,
        case: &SupportCase,
    ) -> Result<(Account, Option<String>), AccountError> {
        let account = self.find_live(id).await?;
        let Some(backup) = account.backup_email.clone() else {
            return Err(AccountError::field("backup_email", FieldProblem::Required));
        };
        let Some(email) = EmailAddress::parse(&backup) else {
            return Err(AccountError::field(
                "backup_email",
                FieldProblem::InvalidEmail,
            ));
        };
        let old = account.primary_email.clone();
        let now = self.now();
        let txn = dbtx::write(&self.db).await?;
        let mut row: account::ActiveModel = account.clone().into();
        row.primary_email = Set(Some(email.as_str().to_owned()));
        row.primary_email_lower = Set(Some(email.normalized()));
        row.primary_email_verified = Set(true);
        row.backup_email = Set(None);
        row.must_set_backup = Set(true);
        row.updated_at = Set(now);
        let updated = match row.update(&txn).await {
            Ok(a) => a,
            Err(e) if is_unique_violation(&e) => {
                return Err(AccountError::field(
                    "backup_email",
                    FieldProblem::EmailTaken,
                ));
            }
            Err(e) => return Err(e.into()),
        };
        record(
            &txn,
            case,
            "promote_backup_email",
            account.id,
            &format!("primary email is now the former backup {}", email.as_str()),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok((updated, old))
    }

    /// Support, after an identity verification by mail when no backup works:
    /// a new primary address, unverified until its code is entered. Returns
    /// the account and the old address (to tell it).
    pub async fn replace_primary_email(
        &self,
        id: &Identifier,
        new_email: &str,
        case: &SupportCase,
    ) -> Result<(Account, Option<String>), AccountError> {
        let account = self.find_live(id).await?;
        let Some(email) = EmailAddress::parse(new_email) else {
            return Err(AccountError::field("email", FieldProblem::InvalidEmail));
        };
        if account.backup_email.as_deref().map(str::to_lowercase) == Some(email.normalized()) {
            return Err(AccountError::field(
                "email",
                FieldProblem::BackupSameAsPrimary,
            ));
        }
        let old = account.primary_email.clone();
        let now = self.now();
        let txn = dbtx::write(&self.db).await?;
        let mut row: account::ActiveModel = account.clone().into();
        row.primary_email = Set(Some(email.as_str().to_owned()));
        row.primary_email_lower = Set(Some(email.normalized()));
        row.primary_email_verified = Set(false);
        row.updated_at = Set(now);
        let updated = match row.update(&txn).await {
            Ok(a) => a,
            Err(e) if is_unique_violation(&e) => {
                return Err(AccountError::field("email", FieldProblem::EmailTaken));
            }
            Err(e) => return Err(e.into()),
        };
        record(
            &txn,
            case,
            "replace_primary_email",
            account.id,
            &format!(
                "primary email replaced by {} (to be confirmed by code)",
                email.as_str()
            ),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok((updated, old))
    }

    /// Marks the primary address verified (its code was entered).
    pub async fn confirm_primary_email(
        &self,
        account_id: i32,
        email_lower: &str,
    ) -> Result<bool, AccountError> {
        let res = account::Entity::update_many()
            .col_expr(account::Column::PrimaryEmailVerified, Expr::value(true))
            .col_expr(account::Column::UpdatedAt, Expr::value(self.now()))
            .filter(account::Column::Id.eq(account_id))
            .filter(account::Column::PrimaryEmailLower.eq(email_lower))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records a support action that changes nothing in this crate (two-factor
    /// off, a reset mail, sessions ended); the caller does the change.
    pub async fn record_support_action(
        &self,
        id: &Identifier,
        case: &SupportCase,
        action: &str,
        detail: &str,
    ) -> Result<Account, AccountError> {
        let account = self.find_live(id).await?;
        record(&self.db, case, action, account.id, detail, self.now()).await?;
        Ok(account)
    }

    /// The support audit trail of an account, newest first.
    pub async fn support_actions(
        &self,
        account_id: i32,
    ) -> Result<Vec<SupportAction>, AccountError> {
        Ok(support_action::Entity::find()
            .filter(support_action::Column::AccountId.eq(account_id))
            .order_by_desc(support_action::Column::Id)
            .all(&self.db)
            .await?)
    }

    async fn find_live(&self, id: &Identifier) -> Result<Account, AccountError> {
        match self.find(id).await? {
            Some(a) if a.status != AccountStatus::Erased => Ok(a),
            _ => Err(AccountError::NotFound),
        }
    }

    async fn update_account(
        &self,
        account_id: i32,
        change: impl FnOnce(&mut account::ActiveModel),
    ) -> Result<Account, AccountError> {
        let Some(a) = self.find_by_id(account_id).await? else {
            return Err(AccountError::NotFound);
        };
        let mut row: account::ActiveModel = a.into();
        change(&mut row);
        row.updated_at = Set(self.now());
        Ok(row.update(&self.db).await?)
    }
}

/// Makes `hash` the account's password and keeps the old one in the history.
pub(crate) async fn store_password(
    db: &impl ConnectionTrait,
    account: &Account,
    hash: String,
    now: DateTime<Utc>,
) -> Result<Account, AccountError> {
    if let Some(old) = &account.password_hash {
        password_history::ActiveModel {
            account_id: Set(account.id),
            password_hash: Set(old.clone()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let mut row: account::ActiveModel = account.clone().into();
    row.password_hash = Set(Some(hash));
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

async fn record(
    db: &impl ConnectionTrait,
    case: &SupportCase,
    action: &str,
    account_id: i32,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    support_action::ActiveModel {
        at: Set(now),
        operator: Set(shorten(&case.operator, 64)),
        action: Set(action.to_owned()),
        account_id: Set(account_id),
        case_ref: Set(case.case_ref.clone()),
        detail: Set(detail.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // The customer sees support's actions in their security log too.
    crate::events::Events::record_at(
        db,
        account_id,
        None,
        crate::events::EventKind::SupportAction,
        &format!("{action}: {}", case.case_ref),
        "",
        "",
        now,
    )
    .await
}
