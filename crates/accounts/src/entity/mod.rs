//! The tables this crate owns, as sea-orm entities.

pub mod account;
pub mod account_hold;
pub mod contact_delegation;
pub mod email_change;
pub mod email_verification;
pub mod known_device;
pub mod local_user;
pub mod password_history;
pub mod password_reset;
pub mod security_event;
pub mod support_action;
pub mod user_group;
