//! Guichet's application layer: what a user or an operator does, over the
//! domain crates (`accounts`, `mfa`, `oauth`, `mail`), with the short-lived
//! shared state reached through a port ([`store::StateStore`]).
//!
//! Architecture invariant: this crate knows no HTTP. It imports none of axum,
//! hyper, tower, tower-http, maud or redis (CI checks its dependency tree);
//! the adapters (`server`) implement its ports and map its errors.

pub mod access;
pub mod authorize;
pub mod authz;
pub mod backchannel;
pub mod config;
pub mod contacts;
pub mod email_change;
pub mod email_code;
pub mod error;
pub mod gdpr;
pub mod grants;
pub mod housekeeping;
pub mod i18n;
pub mod limits;
pub mod login;
pub mod notify;
pub mod password;
pub mod ports;
pub mod profile;
pub mod recovery;
pub mod revocation;
pub mod seclog;
pub mod second_factor;
pub mod security;
pub mod services;
pub mod session;
pub mod sign_in;
pub mod signup;
pub mod store;
pub mod support;
pub mod tokens;
pub mod twofactor;
pub mod users;

pub use config::{ConnectionLimits, LoginConfig, RequestLimits, ServerConfig, SessionConfig};
pub use error::AppError;
pub use services::{App, OAuthState};
pub use store::{StateStore, Store, StoreError};
