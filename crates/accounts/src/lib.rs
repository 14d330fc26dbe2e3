//! The customer-account domain: who a customer is and how they prove it.
//!
//! This crate knows customer handles, customer codes, email addresses, the password
//! policy and hashing, sign-up and credential checks, and the tables behind them.
//! It knows nothing of HTTP, cookies, templates, OAuth or Redis: callers hand it
//! parsed domain values and a database connection.

pub mod changes;
pub mod code;
pub mod contacts;
pub mod email;
pub mod entity;
mod error;
pub mod events;
pub mod gdpr;
pub mod handle;
pub mod identifier;
pub mod names;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod roles;
pub mod secret;
pub mod service;
pub mod users;
pub mod verification;

pub use changes::{EmailChangeStage, EmailChangeStep, PendingEmailChange};
pub use code::CustomerCode;
pub use email::EmailAddress;
pub use entity::account::AccountStatus;
pub use entity::contact_delegation::DelegationStatus;
pub use entity::local_user::UserStatus;
pub use error::{AccountError, FieldError, FieldProblem, Refusal};
pub use events::{EventKind, Events, SecurityEvent};
pub use handle::{CustomerHandle, HandleSuffix};
pub use identifier::{Identifier, LoginId};
pub use password::{PasswordHasher, PasswordPolicy};
pub use profile::{Profile, ProfileInput};
pub use recovery::{ResetLink, SupportAction, SupportCase};
pub use roles::Role;
pub use secret::Secret;
pub use service::{
    Account, Accounts, AddressTaken, Language, Signup, SignupOutcome, SignupRequest, SignupWarning,
};
pub use users::{Acting, Group, LocalUser, NewUser, UserChanges};
