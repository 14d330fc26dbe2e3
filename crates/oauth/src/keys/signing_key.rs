//! The `signing_keys` table: one signing key and its life cycle.

use sea_orm::entity::prelude::*;

/// A row of `signing_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// Internal key; also breaks ties between keys activated at the same instant.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The JWS `kid`, random, unique.
    #[sea_orm(unique)]
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// PKCS#8 DER of the private key, encrypted by `KeyEncryptor` with the kid as
    /// associated data.
    #[sea_orm(column_type = "Text")]
    pub private_key: String,
    /// The public JWK as published, JSON.
    #[sea_orm(column_type = "Text")]
    pub public_jwk: String,
    /// When the key was made.
    pub created_at: DateTimeUtc,
    /// From this instant the key may sign; it is published from creation.
    pub activates_at: DateTimeUtc,
    /// From this instant the key no longer signs.
    pub retires_at: Option<DateTimeUtc>,
    /// From this instant the key leaves the JWKS and verifies nothing.
    pub expires_at: Option<DateTimeUtc>,
}

/// Relations of `signing_keys`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
