//! What someone signed in to an account may do there.
//!
//! The account holder may do everything. Local users act through the group
//! they belong to, and every group maps to one of the four roles the
//! provider's users guide describes. The control panel asks these questions
//! and nothing else, so a new page cannot invent its own rule.

use std::fmt;

/// A level of access to one account, lowest first: the derived order is the
/// order of privilege, so "nobody grants a role above their own" is `<=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Group NONE: may sign in to their own user, sees nothing of the account.
    None,
    /// Group UNPRIVILEGED: reads everything, writes nothing.
    ReadOnly,
    /// Group DEFAULT: writes everywhere except user management.
    Restricted,
    /// Group ADMIN: writes everywhere, users included.
    Admin,
    /// The account holder: everything, including what only the holder may do
    /// (primary email, erasing the account).
    Holder,
}

impl Role {
    /// May read the account's pages.
    pub fn can_read(self) -> bool {
        self >= Role::ReadOnly
    }

    /// May change the account's data (profile, contacts, …).
    pub fn can_write(self) -> bool {
        self >= Role::Restricted
    }

    /// May create, edit and delete local users and groups.
    pub fn can_manage_users(self) -> bool {
        self >= Role::Admin
    }

    /// The name used in tokens, APIs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::ReadOnly => "read_only",
            Role::Restricted => "restricted",
            Role::Admin => "admin",
            Role::Holder => "holder",
        }
    }

    /// Reads [`Role::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "none" => Role::None,
            "read_only" => Role::ReadOnly,
            "restricted" => Role::Restricted,
            "admin" => Role::Admin,
            "holder" => Role::Holder,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_grow_with_the_role() {
        assert!(!Role::None.can_read());
        assert!(Role::ReadOnly.can_read() && !Role::ReadOnly.can_write());
        assert!(Role::Restricted.can_write() && !Role::Restricted.can_manage_users());
        assert!(Role::Admin.can_manage_users());
        assert!(Role::Holder > Role::Admin);
    }

    #[test]
    fn names_round_trip() {
        for r in [
            Role::None,
            Role::ReadOnly,
            Role::Restricted,
            Role::Admin,
            Role::Holder,
        ] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("ADMIN"), None);
    }
}
