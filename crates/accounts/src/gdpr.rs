//! The holder's rights over their data: holds that other systems put on an
//! account (open services, unpaid invoices), and erasure, which those holds
//! stop.
//!
//! An erased account stays as a tombstone row (`status = 'erased'`, handle,
//! customer code and subject kept, everything personal emptied) so that the
//! unique indexes keep its handle and customer code from ever being handed
//! out again, and a login with the handle fails like an unknown account.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entity::account::AccountStatus;
use crate::entity::{
    account, account_hold, contact_delegation, email_verification, known_device, local_user,
    password_history, password_reset, user_group,
};
use crate::error::{AccountError, FieldProblem};
use crate::events::Events;
use crate::service::{Account, Accounts};

/// A hold on an account.
pub type Hold = account_hold::Model;

/// What an operator sends to set a hold, as received.
#[derive(Clone, Debug, Default)]
pub struct HoldRequest {
    /// The other system's reference (contract, invoice number).
    pub reference: String,
    /// A note the customer sees.
    pub note: String,
}

/// Checks a hold kind: 1 to 32 lower-case ASCII letters, digits or `_`
/// (`open_services`, `unpaid_invoices`, …).
pub fn parse_hold_kind(kind: &str) -> Result<String, AccountError> {
    let ok = !kind.is_empty()
        && kind.len() <= 32
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(kind.to_owned())
    } else {
        Err(AccountError::field("kind", FieldProblem::BadCharacters))
    }
}

fn printable(field: &'static str, s: &str, max: usize) -> Result<String, AccountError> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(AccountError::field(field, FieldProblem::TooLong { max }));
    }
    if s.chars().any(char::is_control) {
        return Err(AccountError::field(field, FieldProblem::BadCharacters));
    }
    Ok(s.to_owned())
}

impl Accounts {
    /// Sets (or replaces) the account's hold of `kind`.
    pub async fn set_hold(
        &self,
        account_id: i32,
        kind: &str,
        req: &HoldRequest,
        set_by: &str,
    ) -> Result<Hold, AccountError> {
        let kind = parse_hold_kind(kind)?;
        let reference = printable("reference", &req.reference, 128)?;
        let note = printable("note", &req.note, 500)?;
        let now = self.now();
        let row = account_hold::ActiveModel {
            account_id: Set(account_id),
            kind: Set(kind.clone()),
            reference: Set(reference),
            note: Set(note),
            set_by: Set(set_by.chars().take(64).collect()),
            set_at: Set(now),
            ..Default::default()
        };
        // One statement, so two systems setting the same hold at once agree.
        account_hold::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([account_hold::Column::AccountId, account_hold::Column::Kind])
                    .update_columns([
                        account_hold::Column::Reference,
                        account_hold::Column::Note,
                        account_hold::Column::SetBy,
                        account_hold::Column::SetAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        account_hold::Entity::find()
            .filter(account_hold::Column::AccountId.eq(account_id))
            .filter(account_hold::Column::Kind.eq(kind))
            .one(&self.db)
            .await?
            .ok_or(AccountError::NotFound)
    }

    /// Lifts the account's hold of `kind`; `false` when there was none.
    pub async fn lift_hold(&self, account_id: i32, kind: &str) -> Result<bool, AccountError> {
        let kind = parse_hold_kind(kind)?;
        let res = account_hold::Entity::delete_many()
            .filter(account_hold::Column::AccountId.eq(account_id))
            .filter(account_hold::Column::Kind.eq(kind))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// The account's holds, oldest first.
    pub async fn holds(&self, account_id: i32) -> Result<Vec<Hold>, AccountError> {
        Ok(account_hold::Entity::find()
            .filter(account_hold::Column::AccountId.eq(account_id))
            .order_by_asc(account_hold::Column::SetAt)
            .all(&self.db)
            .await?)
    }

    /// Erases an account's personal data, keeping the row as a tombstone;
    /// its local users and groups are deleted.
    /// Refused with [`AccountError::Held`] while any hold exists; the check
    /// and the wipe happen in one transaction, so a hold set meanwhile either
    /// stops the erasure or comes after it. Tables of other crates (second
    /// factors, consents, tokens) and the sessions are the caller's to clear.
    pub async fn erase(&self, account_id: i32) -> Result<Account, AccountError> {
        let txn = dbtx::write(&self.db).await?;
        let Some(a) = account::Entity::find_by_id(account_id).one(&txn).await? else {
            return Err(AccountError::NotFound);
        };
        if a.status == AccountStatus::Erased {
            return Err(AccountError::NotFound);
        }
        let holds = account_hold::Entity::find()
            .filter(account_hold::Column::AccountId.eq(account_id))
            .all(&txn)
            .await?;
        if !holds.is_empty() {
            return Err(AccountError::Held(
                holds.into_iter().map(|h| h.kind).collect(),
            ));
        }
        let now = self.now();
        let mut row: account::ActiveModel = a.into();
        row.first_name = Set(String::new());
        row.last_name = Set(String::new());
        row.primary_email = Set(None);
        row.primary_email_lower = Set(None);
        row.primary_email_verified = Set(false);
        row.backup_email = Set(None);
        row.password_hash = Set(None);
        row.company_name = Set(None);
        row.address_line1 = Set(None);
        row.address_line2 = Set(None);
        row.postcode = Set(None);
        row.city = Set(None);
        row.region = Set(None);
        row.phone = Set(None);
        row.country = Set(String::new());
        row.status = Set(AccountStatus::Erased);
        row.login_notifications = Set(false);
        row.must_set_backup = Set(false);
        row.updated_at = Set(now);
        let erased = row.update(&txn).await?;
        email_verification::Entity::delete_many()
            .filter(email_verification::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        password_reset::Entity::delete_many()
            .filter(password_reset::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        password_history::Entity::delete_many()
            .filter(password_history::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        known_device::Entity::delete_many()
            .filter(known_device::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        contact_delegation::Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(contact_delegation::Column::FromAccountId.eq(account_id))
                    .add(contact_delegation::Column::ToAccountId.eq(account_id)),
            )
            .exec(&txn)
            .await?;
        // Local users are people too: their emails and logins go with the
        // account, and with them the groups that only they used.
        local_user::Entity::delete_many()
            .filter(local_user::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        user_group::Entity::delete_many()
            .filter(user_group::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?;
        Events::delete_all(&txn, account_id).await?;
        txn.commit().await?;
        tracing::info!(account = account_id, "account erased");
        Ok(erased)
    }
}
