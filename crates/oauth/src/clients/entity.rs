//! The `clients` table.

use sea_orm::entity::prelude::*;

/// A registered relying party. List columns hold JSON arrays of strings.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The public identifier relying parties send.
    #[sea_orm(unique)]
    pub client_id: String,
    /// Shown on the consent page.
    pub name: String,
    /// `confidential` or `public`.
    pub kind: String,
    /// How the client authenticates at the token endpoint.
    pub auth_method: String,
    /// Hex SHA-256 of the client secret; `None` for public and key-based clients.
    pub secret_hash: Option<String>,
    /// Exact redirect URIs (JSON array).
    pub redirect_uris: String,
    /// Exact post-logout redirect URIs (JSON array).
    pub post_logout_redirect_uris: String,
    /// Where logout tokens are posted.
    pub backchannel_logout_uri: Option<String>,
    /// Allowed grant types (JSON array).
    pub grant_types: String,
    /// Allowed scopes (JSON array).
    pub scopes: String,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// Logins for this client must use a second factor.
    pub requires_2fa: bool,
    /// A resource server the operator let introspect tokens issued to other
    /// clients (RFC 7662 §4: the server decides who may learn what).
    pub introspects_others: bool,
    /// Access token lifetime.
    pub access_token_ttl_secs: i32,
    /// Refresh token absolute lifetime.
    pub refresh_token_ttl_secs: i32,
    /// Refresh token idle lifetime.
    pub refresh_idle_ttl_secs: i32,
    /// ID token signing algorithm.
    pub id_token_alg: String,
    /// Public keys for `private_key_jwt` (a JWKS document).
    pub jwks: Option<String>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Relations of `clients`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
