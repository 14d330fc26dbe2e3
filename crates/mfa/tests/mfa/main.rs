//! The mfa service against a real (in-memory SQLite) database, the in-memory
//! short-lived store, an SMS outbox in a temporary directory and a software
//! security key. Each test builds its own world.

mod common;
mod hostile;
mod methods;
mod recovery;
mod sms;
mod totp;
mod webauthn;
