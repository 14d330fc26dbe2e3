//! The one error type of the oauth crate.

use crate::keys::SigningAlg;

/// Everything that can go wrong in the OAuth domain.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A presented JWT is malformed, not ours, badly signed or out of its time
    /// window. The reason is for logs only; clients must all see one answer.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// No key of this algorithm may sign now: `KeyRing::ensure` was not run.
    #[error("no active {} signing key", .0.as_str())]
    NoSigningKey(SigningAlg),
    /// The configured key that encrypts signing keys at rest is unusable; the
    /// message says why without repeating the key.
    #[error("invalid signing-key encryption key: {0}")]
    InvalidEncryptionKey(String),
    /// A client registration was refused: every `(field, problem)`.
    #[error("invalid client settings: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidClientSpec(Vec<(&'static str, String)>),
    /// No client has this id.
    #[error("no such client")]
    ClientNotFound,
    /// Client authentication failed (unknown client, wrong secret): one case.
    #[error("client authentication failed")]
    InvalidClient,
    /// The client is not registered for this grant type.
    #[error("grant type not allowed for this client")]
    UnauthorizedClient,
    /// A requested scope is not allowed for this client.
    #[error("scope not allowed: {0}")]
    InvalidScope(String),
    /// A code or refresh token is unknown, used, expired or bound elsewhere.
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// Anything else that is not the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}
