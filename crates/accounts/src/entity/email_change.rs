//! A pending change of primary email: the new address and the code it waits for.

use sea_orm::entity::prelude::*;

/// A row of `email_changes`; one per account at most.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_changes")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account whose primary address changes.
    #[sea_orm(unique)]
    pub account_id: i32,
    /// The new address, as typed.
    pub new_email: String,
    /// `current`: the first code went to the current address; `new`: the
    /// second code went to the new one.
    pub stage: String,
    /// `nonce:hex SHA-256(nonce:code)` of the code awaited.
    pub code_hash: String,
    /// Wrong codes typed at this stage.
    pub wrong_tries: i32,
    /// The awaited code's expiry.
    pub code_expires_at: DateTimeUtc,
    /// The whole change's expiry.
    pub expires_at: DateTimeUtc,
    /// When the change began.
    pub created_at: DateTimeUtc,
}

/// Relations of `email_changes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
