//! Holds: another system's reason to keep an account (open services, unpaid
//! invoices), which stops its erasure.

use sea_orm::entity::prelude::*;

/// A row of `account_holds`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_holds")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account held.
    pub account_id: i32,
    /// `open_services`, `unpaid_invoices` or another short code.
    pub kind: String,
    /// The other system's reference.
    pub reference: String,
    /// A note for the customer and support.
    pub note: String,
    /// Who set it (the operator token's name).
    pub set_by: String,
    /// When it was set or last changed.
    pub set_at: DateTimeUtc,
}

/// Relations of `account_holds`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
