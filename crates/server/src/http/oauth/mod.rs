//! OAuth 2 endpoints: token, introspection, revocation, keys and metadata.
//!
//! Errors here are RFC 6749 JSON bodies, never HTML pages.

mod authorize;
mod client_auth;
mod error;
mod introspect;
pub(crate) mod logout;
mod metadata;
mod revoke;
mod token;
mod userinfo;

pub use authorize::{authorize_get, authorize_post, consent, resume};
pub(crate) use error::OAuthHttpError;
pub use introspect::introspect;
pub use logout::{logout_get, logout_post};
pub use metadata::{authorization_server_metadata, jwks, openid_configuration};
pub use revoke::revoke;
pub use token::token;
pub use userinfo::userinfo;
