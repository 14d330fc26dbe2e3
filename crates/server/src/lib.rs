//! Guichet's HTTP server: the pages and JSON API customers use, their sessions,
//! login throttling and security headers.
//!
//! Architecture invariant: this is the only crate that knows HTTP, cookies,
//! templates and Redis. It calls into `accounts` with parsed domain values and
//! turns the outcomes into responses.

pub mod config;
pub mod http;
pub mod notify;
pub mod session;
mod state;

pub use config::{LoginConfig, ServerConfig, SessionConfig};
pub use http::router;
pub use session::store::{Store, StoreError};
pub use state::AppState;
