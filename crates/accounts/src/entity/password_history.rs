//! Earlier passwords of an account, as hashes, so a new one can differ from them.

use sea_orm::entity::prelude::*;

/// A row of `password_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_history")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account.
    pub account_id: i32,
    /// The Argon2id PHC string the account had.
    pub password_hash: String,
    /// When that password stopped being the current one.
    pub created_at: DateTimeUtc,
}

/// Relations of `password_history`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
