//! A group an account declared for its local users, with the role it grants.

use sea_orm::entity::prelude::*;

/// A row of `user_groups`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_groups")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account that declared the group.
    pub account_id: i32,
    /// Uppercase name, unique within the account.
    pub name: String,
    /// The role members get (`Role::as_str`).
    pub role: String,
    /// When the group was declared.
    pub created_at: DateTimeUtc,
}

/// Relations of `user_groups`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
