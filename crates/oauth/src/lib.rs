//! The OAuth 2.0 and OpenID Connect domain of Guichet.
//!
//! For now this crate holds the identity provider's signing keys: their
//! generation, encryption at rest, rotation, the published JWKS, and the signing
//! and checking of the JWTs this server issues. Clients and tokens come later.
//! Like `accounts`, it knows nothing of HTTP, cookies or Redis: callers hand it a
//! database connection and the current time.

pub mod assertion;
pub mod authorize;
pub mod clients;
pub mod consents;
pub mod decision;
mod error;
pub mod id_token;
pub mod keys;
pub mod metadata;
pub mod pkce;
pub mod refresh;
pub mod tokens;

pub use error::OAuthError;
pub use keys::{KeyEncryptor, KeyRing, SigningAlg};
