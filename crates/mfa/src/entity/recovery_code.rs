//! One emergency code, for when every other second factor is lost.

use sea_orm::entity::prelude::*;

/// A row of `mfa_recovery_codes`. Only the SHA-256 of the normalised code is
/// stored: the codes carry 80 bits of randomness, so a copy of the database
/// does not yield working codes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_recovery_codes")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The opaque identity the server chose.
    pub identity: String,
    /// Hex SHA-256 of the code without separators, lowercase.
    pub code_hash: String,
    /// When the code was used; a used code never works again.
    pub used_at: Option<DateTimeUtc>,
    /// When the set was generated.
    pub created_at: DateTimeUtc,
}

/// Relations of `mfa_recovery_codes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
