//! How a person names an account or a local user at login, parsed once at the
//! boundary. Both the account service and the local-user rules read these
//! types, so they live below both.

use crate::code::CustomerCode;
use crate::email::EmailAddress;
use crate::error::FieldProblem;
use crate::handle::CustomerHandle;

/// Longest local user ID and group name, in characters.
pub const MAX_LOGIN_CHARS: usize = 32;
/// A local user's ID within an account: 1–32 characters of `a-z 0-9 . _ -`,
/// read in any case and kept lowercase, so `John` and `john` are one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginId(String);

impl LoginId {
    /// Parses an ID as typed.
    pub fn parse(input: &str) -> Result<Self, FieldProblem> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(FieldProblem::Required);
        }
        let ok = s.len() <= MAX_LOGIN_CHARS
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(s))
        } else {
            Err(FieldProblem::InvalidLogin)
        }
    }

    /// The lowercase ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a person names their account at login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// A customer handle.
    Handle(CustomerHandle),
    /// A primary email address.
    Email(EmailAddress),
    /// A customer code (operators look accounts up by it).
    Code(CustomerCode),
    /// A local user: `<customer code>/<ID>` or `<handle>/<ID>`.
    User {
        /// The account, by handle or customer code.
        account: Box<Identifier>,
        /// The user's ID within it.
        login: LoginId,
    },
}

impl Identifier {
    /// Reads what a person typed. Returns `None` when it cannot name any account;
    /// callers must then fail exactly as for an unknown account.
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        if let Some((account, login)) = s.split_once('/') {
            // `<code>/<ID>` or `<handle>/<ID>` names a local user; an email
            // cannot name the account here, since users are the account's.
            let account = match Self::parse(account)? {
                a @ (Self::Handle(_) | Self::Code(_)) => a,
                _ => return None,
            };
            let login = LoginId::parse(login).ok()?;
            return Some(Self::User {
                account: Box::new(account),
                login,
            });
        }
        if s.contains('@') {
            return EmailAddress::parse(s).map(Self::Email);
        }
        if let Some(h) = CustomerHandle::parse(s) {
            return Some(Self::Handle(h));
        }
        CustomerCode::parse(s).map(Self::Code)
    }
}
