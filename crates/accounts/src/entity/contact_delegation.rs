//! A service contact (administrative, technical, billing) handed to another
//! customer.

use sea_orm::entity::prelude::*;

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
    /// `pending`, `accepted`, `refused` or `cancelled`.
    pub status: String,
    /// When asked.
    pub created_at: DateTimeUtc,
    /// When accepted, refused or cancelled.
    pub answered_at: Option<DateTimeUtc>,
}

/// Relations of `contact_delegations`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
