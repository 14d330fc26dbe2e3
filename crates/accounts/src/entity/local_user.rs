//! A local user of an account: someone the holder let in under their own ID,
//! password and group.

use sea_orm::entity::prelude::*;

/// A row of `local_users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "local_users")]
pub struct Model {
    /// Internal key, used in the panel's addresses.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account the user belongs to.
    pub account_id: i32,
    /// The user's ID within the account, lowercase (`john`).
    pub login: String,
    /// The user's email address.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The name of the user's group (`UNPRIVILEGED`, or a custom one).
    pub group_name: String,
    /// Free text from whoever created the user.
    pub description: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Opaque, stable identifier given to relying parties (`sub`).
    #[sea_orm(unique)]
    pub subject: String,
    /// Sessions of this user opened at or before this Unix time in ms are dead.
    pub session_epoch_ms: i64,
    /// When the user was created.
    pub created_at: DateTimeUtc,
    /// When the user last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of `local_users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
