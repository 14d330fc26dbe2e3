//! A local user of an account: someone the holder let in under their own ID,
//! password and group.

use sea_orm::entity::prelude::*;

/// Whether a local user may log in. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Normal.
    #[sea_orm(string_value = "active")]
    Active,
    /// Blocked by the holder or an administrator of the account.
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

impl UserStatus {
    /// Reads a status as a form or an API names it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    /// The stored name, for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

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
    /// Whether the user may log in.
    pub status: UserStatus,
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
