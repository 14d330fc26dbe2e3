//! Local users and their groups.
//!
//! The account holder (and administrators they appoint) create users with an
//! ID, an email, an initial password, a group and a description. A user signs
//! in as `<customer code>/<ID>` or `<handle>/<ID>` and acts with the role of
//! their group. Every rule of who may change whom lives here, not in the pages:
//! only a role that may manage users writes; nobody gives or touches a role
//! above their own; nobody changes their own group, disables or deletes
//! themselves.

use crate::email::EmailAddress;
use crate::entity::local_user::{self, UserStatus};
use crate::error::{AccountError, FieldProblem, Refusal};
pub use crate::identifier::MAX_LOGIN_CHARS;
use crate::roles::Role;
use crate::secret::Secret;

mod groups;
mod members;

/// A local user as stored.
pub type LocalUser = local_user::Model;

/// Longest description of a user, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// The default groups every account has, with their role, in order of
/// privilege. They are not stored, so they cannot be renamed or deleted.
pub const DEFAULT_GROUPS: [(&str, Role); 4] = [
    ("NONE", Role::None),
    ("UNPRIVILEGED", Role::ReadOnly),
    ("DEFAULT", Role::Restricted),
    ("ADMIN", Role::Admin),
];

/// Reads a group name in any case into its uppercase form.
pub fn parse_group_name(input: &str) -> Result<String, FieldProblem> {
    let s = input.trim().to_ascii_uppercase();
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    let ok = s.len() <= MAX_LOGIN_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(s)
    } else {
        Err(FieldProblem::InvalidGroupName)
    }
}

/// Reads the role a group may grant: any but the holder's.
pub fn parse_group_role(input: &str) -> Result<Role, FieldProblem> {
    match Role::parse(input.trim()) {
        Some(Role::Holder) | None => Err(FieldProblem::UnknownRole),
        Some(r) => Ok(r),
    }
}

/// Who is acting on the account's users: their role and, for a local user,
/// their own id (so that they cannot lock themselves out or promote
/// themselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acting {
    /// The actor's role.
    pub role: Role,
    /// The actor's local user id; `None` for the holder.
    pub user_id: Option<i32>,
}

impl Acting {
    /// The account holder.
    pub fn holder() -> Self {
        Self {
            role: Role::Holder,
            user_id: None,
        }
    }

    fn must_manage(self) -> Result<(), AccountError> {
        if self.role.can_manage_users() {
            Ok(())
        } else {
            Err(AccountError::NotPermitted(Refusal::ManageUsers))
        }
    }

    fn may_grant(self, role: Role) -> Result<(), AccountError> {
        if role <= self.role {
            Ok(())
        } else {
            Err(AccountError::NotPermitted(Refusal::AboveOwnRole))
        }
    }
}

/// A group of an account: a default one or one it declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Uppercase name.
    pub name: String,
    /// The role members get.
    pub role: Role,
    /// Whether it is one of the four default groups.
    pub is_default: bool,
    /// How many users belong to it.
    pub members: u64,
}

/// A new user as typed.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// The user's ID.
    pub login: String,
    /// Email address.
    pub email: String,
    /// Initial password.
    pub password: Secret,
    /// Group name.
    pub group: String,
    /// Free text.
    pub description: String,
}

/// Changes to a user, as typed; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    /// New email address.
    pub email: Option<String>,
    /// New group name.
    pub group: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Enabled or disabled.
    pub status: Option<UserStatus>,
}

fn parse_description(input: &str) -> Result<String, FieldProblem> {
    let s = input.trim();
    if s.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldProblem::TooLong {
            max: MAX_DESCRIPTION_CHARS,
        });
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldProblem::BadCharacters);
    }
    Ok(s.to_owned())
}

fn parse_email(input: &str) -> Result<EmailAddress, FieldProblem> {
    if input.trim().is_empty() {
        return Err(FieldProblem::Required);
    }
    EmailAddress::parse(input).ok_or(FieldProblem::InvalidEmail)
}

fn default_role(name: &str) -> Option<Role> {
    DEFAULT_GROUPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::LoginId;

    #[test]
    fn login_ids_are_lowercase_and_bounded() {
        assert_eq!(LoginId::parse(" John ").unwrap().as_str(), "john");
        assert_eq!(LoginId::parse("a.b_c-9").unwrap().as_str(), "a.b_c-9");
        assert_eq!(LoginId::parse(""), Err(FieldProblem::Required));
        assert_eq!(LoginId::parse("jo hn"), Err(FieldProblem::InvalidLogin));
        assert_eq!(LoginId::parse("jöhn"), Err(FieldProblem::InvalidLogin));
        assert_eq!(LoginId::parse("a/b"), Err(FieldProblem::InvalidLogin));
        assert!(LoginId::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            LoginId::parse(&"a".repeat(33)),
            Err(FieldProblem::InvalidLogin)
        );
    }

    #[test]
    fn group_names_are_uppercase_and_roles_exclude_the_holder() {
        assert_eq!(parse_group_name("billing-team").unwrap(), "BILLING-TEAM");
        assert_eq!(parse_group_name("a b"), Err(FieldProblem::InvalidGroupName));
        assert_eq!(parse_group_role("admin"), Ok(Role::Admin));
        assert_eq!(parse_group_role("holder"), Err(FieldProblem::UnknownRole));
        assert_eq!(default_role("UNPRIVILEGED"), Some(Role::ReadOnly));
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        let admin = Acting {
            role: Role::Admin,
            user_id: Some(1),
        };
        assert!(admin.may_grant(Role::Admin).is_ok());
        assert!(admin.may_grant(Role::Holder).is_err());
        let restricted = Acting {
            role: Role::Restricted,
            user_id: Some(2),
        };
        assert!(matches!(
            restricted.must_manage(),
            Err(AccountError::NotPermitted(Refusal::ManageUsers))
        ));
        assert!(Acting::holder().must_manage().is_ok());
    }
}
