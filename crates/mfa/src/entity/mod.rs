//! The tables this crate owns, as sea-orm entities.

pub mod method;
pub mod recovery_code;
