//! A service contact (administrative, technical, billing) handed to another
//! customer.

use sea_orm::entity::prelude::*;

/// Where a hand-over stands. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum DelegationStatus {
    /// Asked, not yet answered.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The other customer is the contact.
    #[sea_orm(string_value = "accepted")]
    Accepted,
    /// The other customer said no.
    #[sea_orm(string_value = "refused")]
    Refused,
    /// Withdrawn by the customer who asked, or ended.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// A row of `contact_delegations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_delegations")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account handing the contact over.
    pub from_account_id: i32,
    /// The account asked to be the contact.
    pub to_account_id: i32,
    /// The service, as named by the customer.
    pub service: String,
    /// `administrative`, `technical` or `billing`.
    pub role: String,
    /// Where the hand-over stands.
    pub status: DelegationStatus,
    /// When asked.
    pub created_at: DateTimeUtc,
    /// When accepted, refused or cancelled.
    pub answered_at: Option<DateTimeUtc>,
}

/// Relations of `contact_delegations`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
