//! One customer account. Erased accounts stay as tombstones: personal columns
//! emptied, handle and customer code kept so they are never given out again.

use sea_orm::entity::prelude::*;

/// Whether an account may log in. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Normal.
    #[sea_orm(string_value = "active")]
    Active,
    /// Blocked by an operator; login fails like a wrong password.
    #[sea_orm(string_value = "disabled")]
    Disabled,
    /// Erased (GDPR): personal data gone, handle and code kept so that they
    /// are never given out again. No way back.
    #[sea_orm(string_value = "erased")]
    Erased,
}

impl AccountStatus {
    /// The stored name, for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Erased => "erased",
        }
    }
}

/// A row of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// Internal key, never shown.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Opaque, stable identifier given to relying parties (`sub`).
    #[sea_orm(unique)]
    pub subject: String,
    /// The customer handle, lowercase.
    #[sea_orm(unique)]
    pub handle: String,
    /// The customer code, `1234-567-89`.
    #[sea_orm(unique)]
    pub customer_code: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Primary email as typed; `None` on a tombstone.
    pub primary_email: Option<String>,
    /// Primary email in lowercase, unique across accounts.
    #[sea_orm(unique)]
    pub primary_email_lower: Option<String>,
    /// Whether the holder proved they read the primary address.
    pub primary_email_verified: bool,
    /// Backup email, different from the primary.
    pub backup_email: Option<String>,
    /// Argon2id PHC string; `None` on a tombstone.
    pub password_hash: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Preferred language: `en`, `fr` or `it`.
    pub language: String,
    /// `individual` or `company`.
    pub kind: String,
    /// Company name when `kind` is `company`.
    pub company_name: Option<String>,
    /// Whether the account may log in, or is a tombstone.
    pub status: AccountStatus,
    /// Whether a mail tells the holder of each login from a new device.
    pub login_notifications: bool,
    /// Support promoted the backup address to primary: the holder must name a
    /// new backup address before anything else.
    pub must_set_backup: bool,
    /// First line of the postal address.
    pub address_line1: Option<String>,
    /// Second line of the postal address.
    pub address_line2: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region, state or province.
    pub region: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// When the account was created.
    pub created_at: DateTimeUtc,
    /// When the account last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of `accounts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
