//! The security log of an account: logins, failures, and every change to how
//! the account is reached or protected, kept for [`RETENTION`].
//!
//! Anything that changes an account's access records one line here through
//! [`Events::record`]; the control panel shows the lines and the data export
//! includes them. A line never holds a secret (no password, code or token).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entity::security_event;
use crate::error::AccountError;

/// How long lines are kept and shown.
pub const RETENTION: Duration = Duration::days(90);

/// How many lines a page of the log shows.
pub const PAGE_SIZE: u64 = 50;

/// One line of the security log.
pub type SecurityEvent = security_event::Model;

/// What happened. The stored name is [`EventKind::as_str`]; pages translate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A login completed.
    Login,
    /// A password was refused at login.
    LoginFailed,
    /// A second factor was refused.
    SecondFactorFailed,
    /// The password was changed from the control panel.
    PasswordChanged,
    /// The password was reset through a reset link.
    PasswordReset,
    /// The primary email changed.
    EmailChanged,
    /// The backup email changed.
    BackupEmailChanged,
    /// A two-factor method was added.
    TwoFactorAdded,
    /// A two-factor method was removed.
    TwoFactorRemoved,
    /// Two-factor authentication was turned off.
    TwoFactorDisabled,
    /// New emergency codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// One session was ended from the control panel.
    SessionEnded,
    /// Every session was ended and refresh tokens revoked.
    SignedOutEverywhere,
    /// An application's access was withdrawn.
    ConsentWithdrawn,
    /// Support acted on the account.
    SupportAction,
    /// A local user was created.
    UserCreated,
    /// A local user was changed (email, group, description, enabled).
    UserChanged,
    /// A local user was deleted.
    UserDeleted,
    /// The profile changed.
    ProfileChanged,
    /// The account's data were downloaded.
    DataExported,
    /// A service contact was handed over, accepted, refused or cancelled.
    ContactChanged,
}

impl EventKind {
    /// Every kind, for translation checks.
    pub const ALL: [EventKind; 21] = [
        Self::Login,
        Self::LoginFailed,
        Self::SecondFactorFailed,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::BackupEmailChanged,
        Self::TwoFactorAdded,
        Self::TwoFactorRemoved,
        Self::TwoFactorDisabled,
        Self::RecoveryCodesRegenerated,
        Self::SessionEnded,
        Self::SignedOutEverywhere,
        Self::ConsentWithdrawn,
        Self::SupportAction,
        Self::UserCreated,
        Self::UserChanged,
        Self::UserDeleted,
        Self::ProfileChanged,
        Self::DataExported,
        Self::ContactChanged,
    ];

    /// The stored name, also the JSON value and the translation key's end.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChanged => "email_changed",
            Self::BackupEmailChanged => "backup_email_changed",
            Self::TwoFactorAdded => "two_factor_added",
            Self::TwoFactorRemoved => "two_factor_removed",
            Self::TwoFactorDisabled => "two_factor_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::SessionEnded => "session_ended",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::SupportAction => "support_action",
            Self::UserCreated => "user_created",
            Self::UserChanged => "user_changed",
            Self::UserDeleted => "user_deleted",
            Self::ProfileChanged => "profile_changed",
            Self::DataExported => "data_exported",
            Self::ContactChanged => "contact_changed",
        }
    }

    /// Reads [`EventKind::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One page of the log, newest first.
#[derive(Clone, Debug)]
pub struct EventPage {
    /// The lines.
    pub events: Vec<SecurityEvent>,
    /// The page shown, from 1.
    pub page: u64,
    /// Whether an older page exists.
    pub has_more: bool,
}

fn clip(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The security log.
pub struct Events;

impl Events {
    /// Records one line now. `detail` says what changed (never a secret);
    /// `ip` and `user_agent` are empty when the change did not come from a
    /// browser. Long values are cut, not refused: the log must never stop the
    /// action it records. Lines of this account older than [`RETENTION`] go
    /// at the same time, so the table keeps 90 days without a sweeper.
    pub async fn record(
        db: &impl ConnectionTrait,
        account_id: i32,
        user_id: Option<i32>,
        kind: EventKind,
        detail: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<(), AccountError> {
        Self::record_at(
            db,
            account_id,
            user_id,
            kind,
            detail,
            ip,
            user_agent,
            Utc::now(),
        )
        .await
    }

    /// [`Events::record`] at a given time (tests, imports).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_at(
        db: &impl ConnectionTrait,
        account_id: i32,
        user_id: Option<i32>,
        kind: EventKind,
        detail: &str,
        ip: &str,
        user_agent: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AccountError> {
        security_event::ActiveModel {
            account_id: Set(account_id),
            user_id: Set(user_id),
            kind: Set(kind.as_str().to_owned()),
            detail: Set(clip(detail, 255)),
            ip: Set(clip(ip, 64)),
            user_agent: Set(clip(user_agent, 255)),
            at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        security_event::Entity::delete_many()
            .filter(security_event::Column::AccountId.eq(account_id))
            .filter(security_event::Column::At.lt(now - RETENTION))
            .exec(db)
            .await?;
        Ok(())
    }

    /// A page (from 1) of the account's lines of the last [`RETENTION`],
    /// newest first.
    pub async fn page(
        db: &impl ConnectionTrait,
        account_id: i32,
        page: u64,
        now: DateTime<Utc>,
    ) -> Result<EventPage, AccountError> {
        let page = page.max(1);
        let mut events = security_event::Entity::find()
            .filter(security_event::Column::AccountId.eq(account_id))
            .filter(security_event::Column::At.gte(now - RETENTION))
            .order_by_desc(security_event::Column::At)
            .order_by_desc(security_event::Column::Id)
            .offset((page - 1).saturating_mul(PAGE_SIZE))
            .limit(PAGE_SIZE + 1)
            .all(db)
            .await?;
        let has_more = events.len() as u64 > PAGE_SIZE;
        events.truncate(PAGE_SIZE as usize);
        Ok(EventPage {
            events,
            page,
            has_more,
        })
    }

    /// Every line kept for the account, newest first (the data export).
    pub async fn all(
        db: &impl ConnectionTrait,
        account_id: i32,
    ) -> Result<Vec<SecurityEvent>, AccountError> {
        Ok(security_event::Entity::find()
            .filter(security_event::Column::AccountId.eq(account_id))
            .order_by_desc(security_event::Column::At)
            .order_by_desc(security_event::Column::Id)
            .all(db)
            .await?)
    }

    /// How many lines of a kind the account has (tests and support).
    pub async fn count(
        db: &impl ConnectionTrait,
        account_id: i32,
        kind: EventKind,
    ) -> Result<u64, AccountError> {
        Ok(security_event::Entity::find()
            .filter(security_event::Column::AccountId.eq(account_id))
            .filter(security_event::Column::Kind.eq(kind.as_str()))
            .count(db)
            .await?)
    }

    /// Deletes every account's lines older than [`RETENTION`] (for a
    /// periodic sweep of accounts that no longer write).
    pub async fn purge(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, AccountError> {
        Ok(security_event::Entity::delete_many()
            .filter(security_event::Column::At.lt(now - RETENTION))
            .exec(db)
            .await?
            .rows_affected)
    }

    /// Deletes every line of an account (erasure).
    pub async fn delete_all(
        db: &impl ConnectionTrait,
        account_id: i32,
    ) -> Result<(), AccountError> {
        security_event::Entity::delete_many()
            .filter(security_event::Column::AccountId.eq(account_id))
            .exec(db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert!(seen.insert(k.as_str()));
            assert!(k.as_str().len() <= 48);
        }
    }
}
