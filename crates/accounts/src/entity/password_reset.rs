//! A pending password reset: the single-use link mailed to the primary address.

use sea_orm::entity::prelude::*;

/// A row of `password_resets`. Only the SHA-256 of the token is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_resets")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account whose password the link resets.
    pub account_id: i32,
    /// Hex SHA-256 of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When the link was made.
    pub created_at: DateTimeUtc,
    /// After this the link no longer works.
    pub expires_at: DateTimeUtc,
    /// When the link was used; a used link never works again.
    pub used_at: Option<DateTimeUtc>,
}

/// Relations of `password_resets`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
