//! Who is acting on the control panel, and what they may do there.
//!
//! Every control-panel page and its JSON twin starts with [`Panel::load`]: it
//! finds the session, the account, the person acting (the holder or one of the
//! account's local users) and their [`Role`], and sends the browser to log in
//! or to the forced detours when needed. Handlers then ask [`Panel::require`]
//! before anything, so a page cannot forget the role check by writing its own.

use axum::response::{IntoResponse, Redirect, Response};

use accounts::{Account, Role};

use super::error::AppError;
use super::extract::CurrentSession;
use super::locale::negotiate;
use crate::state::AppState;
use app::i18n::Lang;
use app::session::SessionData;
use app::twofactor;
use views::routes;

/// The person acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The account holder.
    Holder,
    /// One of the account's local users.
    User {
        /// Internal id of the local user.
        id: i32,
        /// The user's ID within the account (`john`).
        login: String,
        /// The role of the user's group.
        role: Role,
    },
}

/// What an action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Reading the account's pages.
    Read,
    /// Changing the account's data.
    Write,
    /// Managing local users and groups.
    ManageUsers,
    /// What only the holder may do: primary email, erasing the account.
    Holder,
    /// One's own sessions and application grants: every signed-in person,
    /// whatever their group (the calls see only the caller's own; see
    /// [`app::access::Whom`]).
    Own,
}

/// A signed-in, active account and who is acting on it.
pub struct Panel {
    /// The session's id (the cookie value), to end it.
    pub session_id: String,
    /// The session.
    pub data: SessionData,
    /// The account.
    pub account: Account,
    /// The person acting.
    pub actor: Actor,
    /// The language to answer in.
    pub lang: Lang,
}

impl Panel {
    /// The signed-in panel, or the response that sends the browser to log in
    /// (coming back to `back`) or to a forced detour.
    pub async fn load(
        state: &AppState,
        session: CurrentSession,
        back: &str,
    ) -> Result<Result<Panel, Response>, AppError> {
        // The extractor has just read the account and the local user and
        // found both active (`authz::signed_in`): they are used as read.
        let Some((id, data, who)) = session.signed_in() else {
            let to = routes::then(routes::LOGIN, back);
            return Ok(Err(Redirect::to(&to).into_response()));
        };
        let account = who.account;
        if account.must_set_backup && data.user_id.is_none() {
            // Support promoted the backup address: a new one comes first.
            let to = routes::then(routes::BACKUP_EMAIL, back);
            return Ok(Err(Redirect::to(&to).into_response()));
        }
        let lang = negotiate(Some(Lang::parse(&account.language)));
        let actor = match who.user {
            None => Actor::Holder,
            // The group is read on every request: a changed group takes
            // effect at once.
            Some(u) => Actor::User {
                role: state.accounts.user_role(&u).await?,
                id: u.id,
                login: u.login,
            },
        };
        Ok(Ok(Panel {
            session_id: id,
            data,
            account,
            actor,
            lang,
        }))
    }

    /// The role of the person acting.
    pub fn role(&self) -> Role {
        match &self.actor {
            Actor::Holder => Role::Holder,
            Actor::User { role, .. } => *role,
        }
    }

    /// The local user acting, or `None` for the holder; what the security
    /// log records as the author of a change.
    /// Whose sessions and grants this panel reaches.
    pub fn whom(&self) -> app::access::Whom {
        app::access::Whom {
            account_id: self.account.id,
            user_id: self.user_id(),
        }
    }

    pub fn user_id(&self) -> Option<i32> {
        match &self.actor {
            Actor::Holder => None,
            Actor::User { id, .. } => Some(*id),
        }
    }

    /// The key two-factor methods are stored under: the holder's or the
    /// local user's own, never shared.
    pub fn identity(&self) -> String {
        match &self.actor {
            Actor::Holder => twofactor::identity(self.account.id),
            Actor::User { .. } => twofactor::identity_of(self.account.id, self.user_id()),
        }
    }

    /// Refuses with 403 unless the person acting may do what `need` says.
    pub fn require(&self, need: Need) -> Result<(), AppError> {
        let role = self.role();
        let ok = match need {
            Need::Read => role.can_read(),
            Need::Write => role.can_write(),
            Need::ManageUsers => role.can_manage_users(),
            Need::Holder => role == Role::Holder,
            Need::Own => true,
        };
        if ok {
            Ok(())
        } else {
            Err(AppError::Forbidden(match need {
                Need::Read => "page.error.need_read",
                Need::Write => "page.error.need_write",
                Need::ManageUsers => "page.error.need_manage_users",
                Need::Holder | Need::Own => "page.error.need_holder",
            }))
        }
    }
}
