//! The tables this crate owns, as sea-orm entities.

pub mod account;
pub mod email_verification;
