//! OAuth 2 endpoints: token, introspection, revocation, keys and metadata.
//!
//! Errors here are RFC 6749 JSON bodies, never HTML pages.

mod client_auth;
mod error;
mod introspect;
mod metadata;
mod revoke;
mod token;

pub use introspect::introspect;
pub use metadata::{authorization_server_metadata, jwks};
pub use revoke::revoke;
pub use token::token;
