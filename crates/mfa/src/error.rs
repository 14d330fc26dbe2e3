//! The one error type of the mfa crate.
//!
//! Variants a user causes carry a plain sentence that may be shown as is; the
//! others (store, database, transport) name the failing part so that the
//! server can log them, and are shown to users as a generic failure. No
//! variant ever carries a code, a secret or a phone number.

/// Everything that can go wrong with second factors.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The code is wrong, expired or already used: deliberately one case.
    #[error("The code is not valid. Check it and try again.")]
    WrongCode,
    /// No such method (or ceremony credential) for this identity.
    #[error("This two-factor method does not exist.")]
    NotFound,
    /// The phone number is not in international format.
    #[error(
        "Enter the phone number in international format, starting with + and the country code."
    )]
    InvalidPhone,
    /// A label is empty, longer than 64 characters or holds control characters.
    #[error("Give a name of 1 to 64 characters, without control characters.")]
    InvalidLabel,
    /// The identity string is empty, longer than 64 bytes or holds control
    /// characters: a bug in the caller, never the user's doing.
    #[error("The identity given to the two-factor service is invalid.")]
    InvalidIdentity,
    /// Too many SMS were sent for this method (or enrolments started) recently.
    #[error("Too many text messages were sent. Wait a few minutes before asking for another.")]
    TooManySends,
    /// The security-key ceremony is unknown, used, expired or someone else's.
    #[error("This request has expired. Start again.")]
    ChallengeExpired,
    /// The security key's answer was refused; the text is for users.
    #[error("{0}")]
    WebAuthn(String),
    /// The security key's signature counter went backwards: it may have been cloned.
    #[error("This security key may have been copied; it was refused. Use another method.")]
    CounterRegression,
    /// The SMS could not be handed to the gateway.
    #[error("The text message could not be sent: {0}.")]
    Transport(String),
    /// The short-lived store (Redis or memory) failed.
    #[error("The short-lived store failed: {0}.")]
    Ephemeral(String),
    /// A secret could not be sealed or opened.
    #[error("A secret could not be sealed or opened: {0}.")]
    Sealing(String),
    /// The configuration given to [`crate::Mfa::new`] is unusable.
    #[error("The two-factor configuration is invalid: {0}.")]
    InvalidConfig(String),
    /// The database failed.
    #[error("The database failed: {0}.")]
    Database(#[from] sea_orm::DbErr),
    /// Anything else that is not the caller's fault.
    #[error("Internal error in the two-factor service: {0}.")]
    Internal(String),
}
