//! The store adapter that browser sessions and attempt counters
//! (`app::session`) are kept in: Redis, or process memory.

pub mod store;
