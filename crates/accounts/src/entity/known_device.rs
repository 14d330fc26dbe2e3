//! A browser an account completed a login from, known by its device cookie.

use sea_orm::entity::prelude::*;

/// A row of `known_devices`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_devices")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account.
    pub account_id: i32,
    /// Hex SHA-256 of the device cookie.
    pub device_hash: String,
    /// The browser's description at the first login, shortened.
    pub user_agent: String,
    /// First completed login from this device.
    pub created_at: DateTimeUtc,
    /// Latest completed login from this device.
    pub last_seen_at: DateTimeUtc,
}

/// Relations of `known_devices`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
