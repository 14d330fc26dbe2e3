//! The one error type of the accounts crate.

use std::fmt;

/// Why a field of a request was refused. The server turns each into a message in the
/// user's language; `code()` is the stable key for that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldProblem {
    /// Nothing was entered where something is required.
    Required,
    /// Longer than the field allows.
    TooLong { max: usize },
    /// Holds characters the field refuses (control characters, for instance).
    BadCharacters,
    /// Not a syntactically valid email address.
    InvalidEmail,
    /// Another account already uses this primary email address.
    EmailTaken,
    /// The backup email equals the primary email.
    BackupSameAsPrimary,
    /// The password is shorter than the policy's minimum.
    PasswordTooShort { min: usize },
    /// The password is longer than the policy's maximum, in bytes.
    PasswordTooLong { max_bytes: usize },
    /// The password is in the list of common passwords.
    PasswordCommon,
    /// The password contains the name, handle or email of the holder.
    PasswordPersonal,
    /// The confirmation differs from the password.
    PasswordMismatch,
    /// Not an ISO 3166-1 alpha-2 country code.
    UnknownCountry,
    /// Not one of the supported languages.
    UnknownLanguage,
    /// Neither `individual` nor `company`.
    UnknownKind,
    /// The customer handle typed is not the one of the account concerned.
    HandleMismatch,
    /// The password is one of the account's last `count` passwords.
    PasswordReused { count: usize },
    /// No active account has this customer handle (or it is the account's own).
    UnknownHandle,
    /// Not a phone number in international (E.164) format.
    InvalidPhone,
    /// The password typed is not the account's current one.
    WrongPassword,
    /// The new primary email is the current one.
    SameAsCurrent,
    /// The new primary email is the account's backup email.
    SameAsBackup,
    /// The code typed is not the one mailed.
    WrongCode,
    /// The code expired, was used, or took too many wrong tries.
    CodeDead,
    /// A local user ID outside 1–32 characters of `a-z 0-9 . _ -`.
    InvalidLogin,
    /// Another user of the account already has this ID.
    LoginTaken,
    /// A group name outside 1–32 characters of `A-Z 0-9 _ -`.
    InvalidGroupName,
    /// The account already has a group of this name (default ones included).
    GroupTaken,
    /// The account has no group of this name.
    UnknownGroup,
    /// Not one of `none`, `read_only`, `restricted`, `admin`.
    UnknownRole,
    /// The group still has members, or is a default group.
    GroupInUse,
}

impl FieldProblem {
    /// A stable identifier, for JSON clients and translation keys.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooLong { .. } => "too_long",
            Self::BadCharacters => "bad_characters",
            Self::InvalidEmail => "invalid_email",
            Self::EmailTaken => "email_taken",
            Self::BackupSameAsPrimary => "backup_same_as_primary",
            Self::PasswordTooShort { .. } => "password_too_short",
            Self::PasswordTooLong { .. } => "password_too_long",
            Self::PasswordCommon => "password_common",
            Self::PasswordPersonal => "password_personal",
            Self::PasswordMismatch => "password_mismatch",
            Self::UnknownCountry => "unknown_country",
            Self::UnknownLanguage => "unknown_language",
            Self::UnknownKind => "unknown_kind",
            Self::HandleMismatch => "handle_mismatch",
            Self::PasswordReused { .. } => "password_reused",
            Self::UnknownHandle => "unknown_handle",
            Self::InvalidPhone => "invalid_phone",
            Self::WrongPassword => "wrong_password",
            Self::SameAsCurrent => "same_as_current",
            Self::SameAsBackup => "same_as_backup",
            Self::WrongCode => "wrong_code",
            Self::CodeDead => "code_dead",
            Self::InvalidLogin => "invalid_login",
            Self::LoginTaken => "login_taken",
            Self::InvalidGroupName => "invalid_group_name",
            Self::GroupTaken => "group_taken",
            Self::UnknownGroup => "unknown_group",
            Self::UnknownRole => "unknown_role",
            Self::GroupInUse => "group_in_use",
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Required => write!(f, "This field is required."),
            Self::TooLong { max } => write!(f, "At most {max} characters."),
            Self::BadCharacters => {
                write!(f, "This field contains characters that are not allowed.")
            }
            Self::InvalidEmail => write!(f, "This is not a valid email address."),
            Self::EmailTaken => write!(f, "An account already uses this email address."),
            Self::BackupSameAsPrimary => {
                write!(f, "The backup email must differ from the primary email.")
            }
            Self::PasswordTooShort { min } => {
                write!(f, "The password needs at least {min} characters.")
            }
            Self::PasswordTooLong { max_bytes } => {
                write!(f, "The password is too long (at most {max_bytes} bytes).")
            }
            Self::PasswordCommon => write!(f, "This password is too common; choose another."),
            Self::PasswordPersonal => write!(
                f,
                "The password must not contain your name, customer handle or email address."
            ),
            Self::PasswordMismatch => write!(f, "The two passwords differ."),
            Self::UnknownCountry => write!(f, "Choose a country from the list."),
            Self::UnknownLanguage => write!(f, "Choose English, French or Italian."),
            Self::UnknownKind => write!(f, "Choose individual or company."),
            Self::HandleMismatch => write!(
                f,
                "This is not the customer handle of the account this link is for."
            ),
            Self::UnknownHandle => write!(f, "No other customer has this handle."),
            Self::PasswordReused { count } => write!(
                f,
                "Choose a password you have not used for this account (the last {count} are refused)."
            ),
            Self::InvalidPhone => write!(
                f,
                "Enter the number in international format: + then the country code and the number."
            ),
            Self::WrongPassword => write!(f, "This password is not right."),
            Self::SameAsCurrent => write!(f, "This is already your primary email."),
            Self::SameAsBackup => write!(f, "This is your backup email."),
            Self::WrongCode => write!(f, "This code is not right."),
            Self::CodeDead => write!(f, "This code no longer works."),
            Self::InvalidLogin => write!(
                f,
                "Use 1 to 32 characters: letters a-z, digits, dot, underscore or hyphen."
            ),
            Self::LoginTaken => write!(f, "Another user of this account already has this ID."),
            Self::InvalidGroupName => write!(
                f,
                "Use 1 to 32 characters: letters A-Z, digits, underscore or hyphen."
            ),
            Self::GroupTaken => write!(f, "This account already has a group of this name."),
            Self::UnknownGroup => write!(f, "This account has no group of this name."),
            Self::UnknownRole => write!(f, "Choose none, read_only, restricted or admin."),
            Self::GroupInUse => write!(f, "This group cannot be deleted: it is in use."),
        }
    }
}

/// One refused field: its name in the request and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field name, as in the form and the JSON API.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: FieldProblem,
}

/// Why an action on local users or groups was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Only a role that may manage users may do this.
    ManageUsers,
    /// The change would give a role above the actor's own, or touches a user
    /// whose role is above it.
    AboveOwnRole,
    /// Users may not change their own group, disable or delete themselves.
    OwnUser,
    /// The default groups cannot be changed or deleted.
    DefaultGroup,
}

impl Refusal {
    /// A stable identifier, for JSON clients and translation keys.
    pub fn code(self) -> &'static str {
        match self {
            Self::ManageUsers => "manage_users",
            Self::AboveOwnRole => "above_own_role",
            Self::OwnUser => "own_user",
            Self::DefaultGroup => "default_group",
        }
    }
}

/// Everything that can go wrong in the accounts domain.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The request was refused; nothing was stored. Lists every refused field.
    #[error("invalid request: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.problem)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Unknown identifier, wrong password or disabled account: deliberately one case.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No account matches.
    #[error("no such account")]
    NotFound,
    /// A verification link is unknown, used or expired: one case, on purpose.
    #[error("invalid or expired link")]
    InvalidLink,
    /// Erasure refused: other systems hold the account (the hold kinds).
    #[error("the account is held: {}", .0.join(", "))]
    Held(Vec<String>),
    /// Refused because of the state of what it acts on (a delegation
    /// already answered, for instance).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The person acting may not do this (their role is too low, or the
    /// change would raise someone above it); nothing was changed.
    #[error("not permitted: {0:?}")]
    NotPermitted(Refusal),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// Anything else that is not the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AccountError {
    /// A request refused because of one field.
    pub fn field(field: &'static str, problem: FieldProblem) -> Self {
        Self::Invalid(vec![FieldError { field, problem }])
    }
}

/// Whether the database refused a write for a unique index: the way this
/// crate learns that a handle, code or address is taken.
pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
