//! A pending proof that a customer reads an email address: the link sent there.

use sea_orm::entity::prelude::*;

/// A row of `email_verifications`. Only the SHA-256 of the token is stored, so a
/// copy of the database does not hold working links.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_verifications")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account whose address this is.
    pub account_id: i32,
    /// The address the link was sent to, lowercase.
    pub email: String,
    /// Hex SHA-256 of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// After this the link no longer works.
    pub expires_at: DateTimeUtc,
    /// When the link was used; a used link never works again.
    pub used_at: Option<DateTimeUtc>,
    /// When the link was made.
    pub created_at: DateTimeUtc,
}

/// Relations of `email_verifications`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
