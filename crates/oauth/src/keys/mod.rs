//! The identity provider's signing keys.
//!
//! Keys live in the `signing_keys` table with their private half encrypted by a
//! [`KeyEncryptor`]; a [`KeyRing`] creates and rotates them, publishes the JWKS,
//! and signs and checks the compact JWS tokens this server issues. One key per
//! [`SigningAlg`] signs at a time; the previous and the next one stay published
//! so relying parties can verify across a rotation.

mod alg;
mod encryption;
mod jws;
mod material;
mod ring;
pub mod signing_key;

pub use alg::SigningAlg;
pub use encryption::KeyEncryptor;
pub use ring::{DEFAULT_REFRESH_INTERVAL, KeyRing, SigningKey};
