//! One second-factor method of an identity: an authenticator app, a security
//! key or a phone.

use sea_orm::entity::prelude::*;

/// Whether a method counts for login. Stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum MethodStatus {
    /// Possession not yet proven (a code from the new app or phone awaited).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Proven: counts for login.
    #[sea_orm(string_value = "active")]
    Active,
}

/// A row of `mfa_methods`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_methods")]
pub struct Model {
    /// A random UUID, shown in forms and URLs.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The opaque identity the server chose (`account:17`).
    pub identity: String,
    /// `totp`, `webauthn` or `sms`.
    pub kind: String,
    /// The holder's name for it ("Phone", "Blue key").
    pub label: String,
    /// Pending until possession is proven, then active. Pending methods
    /// never count for login.
    pub status: MethodStatus,
    /// The TOTP seed, sealed by the server's [`crate::Sealer`] under
    /// `totp:<id>`; never stored in clear.
    pub secret: Option<String>,
    /// The phone number in E.164, for SMS.
    pub phone: Option<String>,
    /// The WebAuthn `SecurityKey` as JSON: a public key and a counter, no secret.
    pub credential: Option<String>,
    /// The WebAuthn credential id, base64url, unique across identities.
    #[sea_orm(unique)]
    pub credential_id: Option<String>,
    /// TOTP: the last accepted time step. WebAuthn: the last signature
    /// counter. Both only ever grow, by a conditional UPDATE.
    pub last_step: Option<i64>,
    /// When the method was added.
    pub created_at: DateTimeUtc,
    /// When it last proved a login.
    pub last_used_at: Option<DateTimeUtc>,
}

/// Relations of `mfa_methods`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
