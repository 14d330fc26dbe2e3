//! Second factors: codes from an authenticator app (TOTP), security keys
//! (WebAuthn), codes sent by SMS, and single-use emergency codes.
//!
//! The crate is keyed by an opaque *identity* string that the server chooses
//! (`account:17`, `account:17/user:4`), never by an account id, so the same
//! machinery serves accounts and their local users. It knows nothing of HTTP,
//! cookies, templates, OAuth or Redis: what it needs from the outside comes in
//! through three small traits the server implements: [`Sealer`] (encryption of
//! secrets at rest), [`Ephemeral`] (short-lived shared state) and
//! [`SmsTransport`] (sending a text).

pub mod entity;
mod ephemeral;
mod error;
mod onetime;
mod phone;
mod recovery;
mod service;
mod sms;
mod text;
mod totp;
mod transport;
mod webauthn;

pub use ephemeral::{Ephemeral, MemoryEphemeral};
pub use error::MfaError;
pub use onetime::{OneTimeCode, normalise_code};
pub use phone::PhoneNumber;
pub use service::{Clock, MethodInfo, MethodKind, Mfa, MfaConfig, Sealer};
pub use totp::TotpEnrolment;
pub use transport::{SmsOutbox, SmsTransport};
