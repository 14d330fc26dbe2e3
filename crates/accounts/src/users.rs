//! Local users and their groups.
//!
//! The account holder (and administrators they appoint) create users with an
//! ID, an email, an initial password, a group and a description. A user signs
//! in as `<customer code>/<ID>` or `<handle>/<ID>` and acts with the role of
//! their group. Every rule of who may change whom lives here, not in the pages:
//! only a role that may manage users writes; nobody gives or touches a role
//! above their own; nobody changes their own group, disables or deletes
//! themselves.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::email::EmailAddress;
use crate::entity::account::AccountStatus;
use crate::entity::local_user::UserStatus;
use crate::entity::{account, local_user, user_group};
use crate::error::{AccountError, FieldError, FieldProblem, Refusal, is_unique_violation};
use crate::identifier::LoginId;
pub use crate::identifier::MAX_LOGIN_CHARS;
use crate::roles::Role;
use crate::secret::Secret;
use crate::service::{Account, Accounts};

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

impl Accounts {
    /// The account's groups: the four default ones, then its own by name,
    /// each with its number of members.
    pub async fn list_groups(&self, account_id: i32) -> Result<Vec<Group>, AccountError> {
        let users = self.list_users(account_id).await?;
        let count = |name: &str| users.iter().filter(|u| u.group_name == name).count() as u64;
        let mut out: Vec<Group> = DEFAULT_GROUPS
            .iter()
            .map(|(n, r)| Group {
                name: (*n).to_owned(),
                role: *r,
                is_default: true,
                members: count(n),
            })
            .collect();
        let own = user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .order_by_asc(user_group::Column::Name)
            .all(&self.db)
            .await?;
        for g in own {
            let members = count(&g.name);
            out.push(Group {
                role: Role::parse(&g.role).unwrap_or(Role::None),
                name: g.name,
                is_default: false,
                members,
            });
        }
        Ok(out)
    }

    /// The role a group of the account grants; `None` when it has no such
    /// group.
    pub async fn group_role(
        &self,
        account_id: i32,
        name: &str,
    ) -> Result<Option<Role>, AccountError> {
        if let Some(r) = default_role(name) {
            return Ok(Some(r));
        }
        Ok(user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .filter(user_group::Column::Name.eq(name))
            .one(&self.db)
            .await?
            // A stored role that no longer parses grants nothing.
            .map(|g| Role::parse(&g.role).unwrap_or(Role::None)))
    }

    /// Declares a group. Refused unless the actor manages users and the role
    /// is not above their own.
    pub async fn create_group(
        &self,
        by: Acting,
        account_id: i32,
        name: &str,
        role: &str,
    ) -> Result<Group, AccountError> {
        by.must_manage()?;
        let mut errors = Vec::new();
        let name = parse_group_name(name)
            .map_err(|p| {
                errors.push(FieldError {
                    field: "name",
                    problem: p,
                })
            })
            .ok();
        let role = parse_group_role(role)
            .map_err(|p| {
                errors.push(FieldError {
                    field: "role",
                    problem: p,
                })
            })
            .ok();
        let (Some(name), Some(role)) = (name, role) else {
            return Err(AccountError::Invalid(errors));
        };
        by.may_grant(role)?;
        if default_role(&name).is_some() {
            return Err(AccountError::field("name", FieldProblem::GroupTaken));
        }
        let row = user_group::ActiveModel {
            account_id: Set(account_id),
            name: Set(name.clone()),
            role: Set(role.as_str().to_owned()),
            created_at: Set(self.now()),
            ..Default::default()
        };
        match row.insert(&self.db).await {
            Ok(_) => Ok(Group {
                name,
                role,
                is_default: false,
                members: 0,
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(AccountError::field("name", FieldProblem::GroupTaken))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a group the account declared. The default groups stay; a group
    /// with members stays too (its users would lose their role silently); so
    /// does a group above the actor's role.
    pub async fn delete_group(
        &self,
        by: Acting,
        account_id: i32,
        name: &str,
    ) -> Result<(), AccountError> {
        by.must_manage()?;
        let name = parse_group_name(name).map_err(|_| AccountError::NotFound)?;
        if default_role(&name).is_some() {
            return Err(AccountError::NotPermitted(Refusal::DefaultGroup));
        }
        let Some(g) = user_group::Entity::find()
            .filter(user_group::Column::AccountId.eq(account_id))
            .filter(user_group::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await?
        else {
            return Err(AccountError::NotFound);
        };
        by.may_grant(Role::parse(&g.role).unwrap_or(Role::None))?;
        let members = local_user::Entity::find()
            .filter(local_user::Column::AccountId.eq(account_id))
            .filter(local_user::Column::GroupName.eq(name.as_str()))
            .count(&self.db)
            .await?;
        if members > 0 {
            return Err(AccountError::field("name", FieldProblem::GroupInUse));
        }
        user_group::Entity::delete_by_id(g.id)
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The account's users, by ID.
    pub async fn list_users(&self, account_id: i32) -> Result<Vec<LocalUser>, AccountError> {
        Ok(local_user::Entity::find()
            .filter(local_user::Column::AccountId.eq(account_id))
            .order_by_asc(local_user::Column::Login)
            .all(&self.db)
            .await?)
    }

    /// One user of the account; another account's user is not found.
    pub async fn find_user(
        &self,
        account_id: i32,
        user_id: i32,
    ) -> Result<Option<LocalUser>, AccountError> {
        Ok(local_user::Entity::find_by_id(user_id)
            .filter(local_user::Column::AccountId.eq(account_id))
            .one(&self.db)
            .await?)
    }

    /// One user of the account by their ID.
    pub async fn find_user_by_login(
        &self,
        account_id: i32,
        login: &LoginId,
    ) -> Result<Option<LocalUser>, AccountError> {
        Ok(local_user::Entity::find()
            .filter(local_user::Column::AccountId.eq(account_id))
            .filter(local_user::Column::Login.eq(login.as_str()))
            .one(&self.db)
            .await?)
    }

    /// Finds a local user by the subject relying parties know them by, with
    /// their account.
    pub async fn find_user_by_subject(
        &self,
        subject: &str,
    ) -> Result<Option<(Account, LocalUser)>, AccountError> {
        let Some(u) = local_user::Entity::find()
            .filter(local_user::Column::Subject.eq(subject))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(self.find_by_id(u.account_id).await?.map(|a| (a, u)))
    }

    /// The role a user acts with: their group's.
    pub async fn user_role(&self, user: &LocalUser) -> Result<Role, AccountError> {
        Ok(self
            .group_role(user.account_id, &user.group_name)
            .await?
            .unwrap_or(Role::None))
    }

    /// Creates a user. Every field is checked and every problem reported; the
    /// group's role may not be above the actor's.
    #[tracing::instrument(skip_all, fields(account_id))]
    pub async fn create_user(
        &self,
        by: Acting,
        account: &Account,
        req: NewUser,
    ) -> Result<LocalUser, AccountError> {
        by.must_manage()?;
        let mut errors = Vec::new();
        let mut note = |field: &'static str, problem: FieldProblem| {
            errors.push(FieldError { field, problem });
        };
        let login = LoginId::parse(&req.login)
            .map_err(|p| note("login", p))
            .ok();
        let email = parse_email(&req.email).map_err(|p| note("email", p)).ok();
        let group = match parse_group_name(&req.group) {
            Ok(g) => match self.group_role(account.id, &g).await? {
                Some(r) => Some((g, r)),
                None => {
                    note("group", FieldProblem::UnknownGroup);
                    None
                }
            },
            Err(p) => {
                note("group", p);
                None
            }
        };
        let description = parse_description(&req.description)
            .map_err(|p| note("description", p))
            .ok();
        let personal = [
            login.as_ref().map(LoginId::as_str).unwrap_or(""),
            email.as_ref().map(EmailAddress::local_part).unwrap_or(""),
            account.handle.as_str(),
        ];
        if let Err(p) = self.policy.check(&req.password, &personal) {
            note("password", p);
        }
        let (Some(login), Some(email), Some((group, role)), Some(description)) =
            (login, email, group, description)
        else {
            return Err(AccountError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        by.may_grant(role)?;
        if self.find_user_by_login(account.id, &login).await?.is_some() {
            return Err(AccountError::field("login", FieldProblem::LoginTaken));
        }
        let hash = self.hasher.hash(&req.password).await?;
        let now = self.now();
        let row = local_user::ActiveModel {
            account_id: Set(account.id),
            login: Set(login.as_str().to_owned()),
            email: Set(email.as_str().to_owned()),
            password_hash: Set(hash),
            group_name: Set(group),
            description: Set(description),
            status: Set(UserStatus::Active),
            subject: Set(uuid::Uuid::new_v4().simple().to_string()),
            session_epoch_ms: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        match row.insert(&self.db).await {
            Ok(u) => {
                tracing::info!(account_id = account.id, user = %u.login, "local user created");
                Ok(u)
            }
            // Two concurrent creations of one ID: the unique index decides.
            Err(e) if is_unique_violation(&e) => {
                Err(AccountError::field("login", FieldProblem::LoginTaken))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Finds the user an action targets and checks the actor may touch them:
    /// they manage users, and the user's role is not above their own.
    async fn target(
        &self,
        by: Acting,
        account_id: i32,
        user_id: i32,
    ) -> Result<(LocalUser, Role), AccountError> {
        by.must_manage()?;
        let Some(u) = self.find_user(account_id, user_id).await? else {
            return Err(AccountError::NotFound);
        };
        let role = self.user_role(&u).await?;
        by.may_grant(role)?;
        Ok((u, role))
    }

    /// Changes a user's email, group or description. Nobody changes their own
    /// group (no self-promotion, no self-lockout).
    pub async fn update_user(
        &self,
        by: Acting,
        account_id: i32,
        user_id: i32,
        changes: UserChanges,
    ) -> Result<LocalUser, AccountError> {
        let (u, _) = self.target(by, account_id, user_id).await?;
        let mut errors = Vec::new();
        let email = match &changes.email {
            Some(e) => match parse_email(e) {
                Ok(e) => Some(e),
                Err(p) => {
                    errors.push(FieldError {
                        field: "email",
                        problem: p,
                    });
                    None
                }
            },
            None => None,
        };
        let group = match &changes.group {
            Some(g) => match parse_group_name(g) {
                Ok(g) => match self.group_role(account_id, &g).await? {
                    Some(r) => Some((g, r)),
                    None => {
                        errors.push(FieldError {
                            field: "group",
                            problem: FieldProblem::UnknownGroup,
                        });
                        None
                    }
                },
                Err(p) => {
                    errors.push(FieldError {
                        field: "group",
                        problem: p,
                    });
                    None
                }
            },
            None => None,
        };
        let description = match &changes.description {
            Some(d) => match parse_description(d) {
                Ok(d) => Some(d),
                Err(p) => {
                    errors.push(FieldError {
                        field: "description",
                        problem: p,
                    });
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        if let Some((g, role)) = &group {
            by.may_grant(*role)?;
            if by.user_id == Some(u.id) && *g != u.group_name {
                return Err(AccountError::NotPermitted(Refusal::OwnUser));
            }
        }
        if let Some(s) = changes.status
            && by.user_id == Some(u.id)
            && s != u.status
        {
            return Err(AccountError::NotPermitted(Refusal::OwnUser));
        }
        let mut row: local_user::ActiveModel = u.into();
        if let Some(e) = email {
            row.email = Set(e.as_str().to_owned());
        }
        if let Some((g, _)) = group {
            row.group_name = Set(g);
        }
        if let Some(d) = description {
            row.description = Set(d);
        }
        if let Some(s) = changes.status {
            row.status = Set(s);
        }
        row.updated_at = Set(self.now());
        Ok(row.update(&self.db).await?)
    }

    /// Disables or enables a user. A disabled user cannot sign in, and their
    /// open sessions end at their next request.
    pub async fn set_user_status(
        &self,
        by: Acting,
        account_id: i32,
        user_id: i32,
        status: UserStatus,
    ) -> Result<LocalUser, AccountError> {
        let changes = UserChanges {
            status: Some(status),
            ..Default::default()
        };
        self.update_user(by, account_id, user_id, changes).await
    }

    /// Deletes a user; returns what was deleted (for the notice).
    pub async fn delete_user(
        &self,
        by: Acting,
        account_id: i32,
        user_id: i32,
    ) -> Result<LocalUser, AccountError> {
        let (u, _) = self.target(by, account_id, user_id).await?;
        if by.user_id == Some(u.id) {
            return Err(AccountError::NotPermitted(Refusal::OwnUser));
        }
        local_user::Entity::delete_by_id(u.id)
            .filter(local_user::Column::AccountId.eq(account_id))
            .exec(&self.db)
            .await?;
        Ok(u)
    }

    /// Checks a local user's password. The account is the one the login
    /// named (or `None`), the user the one found in it (or `None`). Unknown
    /// account or user, wrong password, disabled user and an account that is
    /// not active all give `InvalidCredentials` after one full hash, like the
    /// holder's login.
    pub async fn authenticate_user(
        &self,
        account: Option<Account>,
        user: Option<LocalUser>,
        password: &Secret,
    ) -> Result<(Account, LocalUser), AccountError> {
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let ok = self.hasher.verify(password, stored).await?;
        match (account, user) {
            (Some(a), Some(u))
                if ok
                    && a.status == AccountStatus::Active
                    && u.status == UserStatus::Active
                    && u.account_id == a.id =>
            {
                Ok((a, u))
            }
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    /// A user changes their own password: the current one, then a new one
    /// under the policy. Every other session of the user ends; returns the
    /// epoch (Unix ms) sessions must be newer than.
    pub async fn change_user_password(
        &self,
        user: &LocalUser,
        account: &Account,
        current: &Secret,
        new: &Secret,
        confirm: &Secret,
    ) -> Result<i64, AccountError> {
        let mut errors = Vec::new();
        if !self
            .hasher
            .verify(current, Some(&user.password_hash))
            .await?
        {
            errors.push(FieldError {
                field: "current_password",
                problem: FieldProblem::WrongPassword,
            });
        }
        let email_local = user.email.split('@').next().unwrap_or("");
        let personal = [user.login.as_str(), email_local, account.handle.as_str()];
        if let Err(p) = self.policy.check(new, &personal) {
            errors.push(FieldError {
                field: "password",
                problem: p,
            });
        } else if self.hasher.verify(new, Some(&user.password_hash)).await? {
            errors.push(FieldError {
                field: "password",
                problem: FieldProblem::PasswordReused { count: 1 },
            });
        }
        if new.expose() != confirm.expose() {
            errors.push(FieldError {
                field: "password_confirm",
                problem: FieldProblem::PasswordMismatch,
            });
        }
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let hash = self.hasher.hash(new).await?;
        let now = self.now();
        let epoch = now.timestamp_millis();
        local_user::Entity::update_many()
            .col_expr(local_user::Column::PasswordHash, Expr::value(hash))
            .col_expr(local_user::Column::SessionEpochMs, Expr::value(epoch))
            .col_expr(local_user::Column::UpdatedAt, Expr::value(now))
            .filter(local_user::Column::Id.eq(user.id))
            .filter(local_user::Column::AccountId.eq(account.id))
            .exec(&self.db)
            .await?;
        Ok(epoch)
    }

    /// Ends every session of a local user opened until now (disabled,
    /// removed, signed out everywhere): sessions must be newer than the
    /// returned epoch (Unix ms).
    pub async fn end_user_sessions(
        &self,
        account_id: i32,
        user_id: i32,
    ) -> Result<i64, AccountError> {
        let epoch = self.now().timestamp_millis();
        local_user::Entity::update_many()
            .col_expr(local_user::Column::SessionEpochMs, Expr::value(epoch))
            .filter(local_user::Column::Id.eq(user_id))
            .filter(local_user::Column::AccountId.eq(account_id))
            .exec(&self.db)
            .await?;
        Ok(epoch)
    }

    /// The account a local user belongs to, if it still exists.
    pub async fn account_of(&self, user: &LocalUser) -> Result<Option<Account>, AccountError> {
        Ok(account::Entity::find_by_id(user.account_id)
            .one(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
