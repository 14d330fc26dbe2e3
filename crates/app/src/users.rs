//! Local users and groups: what a manager of the account's users does, and
//! a local user changing their own password.
//!
//! Each change here is one domain call followed by its consequences, so that
//! a page and its JSON twin cannot differ in them: the access a change must
//! end is cut off, the security log gets its line and the holder a notice.
//! The rules on who may do what are the domain's (`accounts::users`).

use accounts::events::EventKind;
use accounts::{
    Account, AccountError, Acting, FieldProblem, Group, LocalUser, NewUser, Role, UserChanges,
    UserStatus,
};

use crate::access::{self, Whom};
use crate::error::AppError;
use crate::notify::{self, SecurityChange};
use crate::password::{Caller, PasswordChange};
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::throttle::Subject;

/// Who makes a change to the account's users: the account, the person
/// acting in it (`None` for the holder) and that person's role.
#[derive(Clone, Copy)]
pub struct By<'a> {
    /// The account whose users change.
    pub account: &'a Account,
    /// The local user acting, `None` for the holder.
    pub user_id: Option<i32>,
    /// The role of the person acting.
    pub role: Role,
}

impl By<'_> {
    fn acting(&self) -> Acting {
        Acting {
            role: self.role,
            user_id: self.user_id,
        }
    }
}

/// Adds a local user.
pub async fn create(
    app: &App,
    by: By<'_>,
    origin: &Origin,
    new: NewUser,
) -> Result<LocalUser, AppError> {
    let u = app
        .accounts
        .create_user(by.acting(), by.account, new)
        .await?;
    after(app, by, origin, EventKind::UserCreated, &u).await;
    Ok(u)
}

/// Changes a local user's address, group, description or status.
pub async fn update(
    app: &App,
    by: By<'_>,
    origin: &Origin,
    id: i32,
    changes: UserChanges,
) -> Result<LocalUser, AppError> {
    let u = app
        .accounts
        .update_user(by.acting(), by.account.id, id, changes)
        .await?;
    after(app, by, origin, EventKind::UserChanged, &u).await;
    Ok(u)
}

/// Disables or enables a local user.
pub async fn set_status(
    app: &App,
    by: By<'_>,
    origin: &Origin,
    id: i32,
    status: UserStatus,
) -> Result<LocalUser, AppError> {
    let u = app
        .accounts
        .set_user_status(by.acting(), by.account.id, id, status)
        .await?;
    after(app, by, origin, EventKind::UserChanged, &u).await;
    Ok(u)
}

/// Removes a local user; returns the user as it was.
pub async fn delete(
    app: &App,
    by: By<'_>,
    origin: &Origin,
    id: i32,
) -> Result<LocalUser, AppError> {
    let u = app
        .accounts
        .delete_user(by.acting(), by.account.id, id)
        .await?;
    after(app, by, origin, EventKind::UserDeleted, &u).await;
    Ok(u)
}

/// Adds a group with a role.
pub async fn create_group(
    app: &App,
    by: By<'_>,
    name: &str,
    role: &str,
) -> Result<Group, AppError> {
    Ok(app
        .accounts
        .create_group(by.acting(), by.account.id, name, role)
        .await?)
}

/// Removes a group nobody is in.
pub async fn delete_group(app: &App, by: By<'_>, name: &str) -> Result<(), AppError> {
    Ok(app
        .accounts
        .delete_group(by.acting(), by.account.id, name)
        .await?)
}

/// The account's users, each with the role of their group.
pub async fn list(app: &App, account_id: i32) -> Result<Vec<(LocalUser, Role)>, AppError> {
    let users = app.accounts.list_users(account_id).await?;
    let groups = app.accounts.list_groups(account_id).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let role = role_of(&groups, &u.group_name);
            (u, role)
        })
        .collect())
}

fn role_of(groups: &[Group], name: &str) -> Role {
    groups
        .iter()
        .find(|g| g.name == name)
        .map(|g| g.role)
        .unwrap_or(Role::None)
}

/// One user of the account with the role of their group.
pub async fn get(app: &App, account_id: i32, id: i32) -> Result<(LocalUser, Role), AppError> {
    let u = app
        .accounts
        .find_user(account_id, id)
        .await?
        .ok_or(AccountError::NotFound)?;
    let role = app.accounts.user_role(&u).await?;
    Ok((u, role))
}

/// The role of a user's group.
pub async fn role(app: &App, u: &LocalUser) -> Result<Role, AppError> {
    Ok(app.accounts.user_role(u).await?)
}

/// A local user changes their own password. The current one is a secret
/// like at login: counted before it is checked, under the user's own count
/// ([`AppError::RateLimited`] when over). Every session and token of the
/// user issued so far dies; the calling session goes on under the returned
/// new id.
pub async fn change_own_password(
    app: &App,
    by: By<'_>,
    origin: &Origin,
    user_id: i32,
    caller: Caller<'_>,
    change: PasswordChange,
) -> Result<String, AppError> {
    let user = app
        .accounts
        .find_user(by.account.id, user_id)
        .await?
        .ok_or(AccountError::NotFound)?;
    let ip = origin.ip_addr();
    let reservation = app
        .throttle
        .reserve(&Subject::User(user.id), ip, app.clock.now_ms())
        .await?
        .map_err(AppError::RateLimited)?;
    let PasswordChange {
        current,
        new,
        confirm,
    } = change;
    match app
        .accounts
        .change_user_password(&user, by.account, &current, &new, &confirm)
        .await
    {
        Ok(_) => reservation.succeeded().await?,
        Err(AccountError::Invalid(errors)) => {
            if errors
                .iter()
                .any(|e| e.problem == FieldProblem::WrongPassword)
            {
                reservation.failed();
            } else {
                // The current password was right; the new one was refused.
                reservation.succeeded().await?;
            }
            return Err(AccountError::Invalid(errors).into());
        }
        Err(other) => return Err(other.into()),
    }
    after(app, by, origin, EventKind::PasswordChanged, &user).await;
    let whom = Whom {
        account_id: by.account.id,
        user_id: Some(user.id),
    };
    let id = access::cut_off(app, whom, Some(caller.data))
        .await?
        .unwrap_or_default();
    app.sessions.destroy(caller.session_id).await?;
    Ok(id)
}

/// What follows a change to one of the account's users: a user changed
/// (perhaps to another group, or disabled) or deleted loses the access
/// issued so far, so that no relying party goes on trusting an old role;
/// the security log gets its line (the person acting as author, the user
/// changed in the detail) and the holder a notice by mail.
async fn after(app: &App, by: By<'_>, origin: &Origin, kind: EventKind, user: &LocalUser) {
    let login = user.login.clone();
    let change = match kind {
        EventKind::UserCreated => SecurityChange::UserCreated { login },
        EventKind::UserDeleted => SecurityChange::UserDeleted { login },
        EventKind::PasswordChanged => SecurityChange::UserPasswordChanged { login },
        _ => SecurityChange::UserChanged { login },
    };
    if let Err(e) = cut(app, by, kind, user).await {
        tracing::error!(error = %e, user = user.id, "access of a changed user not cut off");
    }
    seclog::record(app, by.account.id, by.user_id, kind, &user.login, origin).await;
    if let Some(mail) = notify::security_notice(&app.config, by.account, &change) {
        notify::send_later(app, mail);
    }
}

/// The access a change ends: for an active user changed, the access tokens
/// (a changed role must not live on in them); for a user removed, the
/// access tokens too (the sessions and refresh tokens died with the row);
/// for a user disabled, every session, refresh token and access token.
async fn cut(app: &App, by: By<'_>, kind: EventKind, user: &LocalUser) -> Result<(), AppError> {
    match kind {
        EventKind::UserChanged if user.status == UserStatus::Active => {
            Ok(crate::revocation::cut_off(&*app.store, &user.subject, None).await?)
        }
        EventKind::UserDeleted => {
            Ok(crate::revocation::cut_off(&*app.store, &user.subject, None).await?)
        }
        EventKind::UserChanged => {
            let whom = Whom {
                account_id: by.account.id,
                user_id: Some(user.id),
            };
            access::cut_off(app, whom, None).await.map(|_| ())
        }
        _ => Ok(()),
    }
}
