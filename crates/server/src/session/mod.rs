//! Browser sessions and attempt counters live in `app::session`; this module
//! re-exports them under their former path and holds the store adapter they
//! are kept in (Redis, or process memory).

pub mod store;

pub use app::session::*;
