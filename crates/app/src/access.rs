//! Who can reach an account: its live sessions and the applications it let
//! in, as the security page lists them, and ending either.
//!
//! Sessions are named outside by their public `sid`, never by the cookie
//! value or its hash; every lookup goes through the account's own index, so
//! one account can neither see nor end another's sessions.

use std::sync::Arc;

use accounts::EventKind;
use chrono::Utc;

use crate::error::AppError;
use crate::seclog::{self, Origin};
use crate::services::App;
use crate::session::ListedSession;

/// A live session as the security page shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionView {
    /// The public handle that names it in forms and the API (`sid`).
    pub handle: String,
    /// Browser and system, summarised from the user agent.
    pub device: String,
    /// The user agent as sent.
    pub user_agent: String,
    /// Client IP at login.
    pub ip: String,
    /// Unix time opened.
    pub opened: i64,
    /// Unix time of the last request.
    pub last_seen: i64,
    /// Whether it is the session asking.
    pub current: bool,
}

/// Summarises a user agent as "Browser on System" (`Firefox on Linux`).
pub fn device_of(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") || ua.contains("Opera") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chromium/") {
        "Chromium"
    } else if ua.contains("Chrome/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else if ua.is_empty() {
        "?"
    } else {
        ua.split(['/', ' ']).next().unwrap_or("?")
    };
    let system = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    let browser: String = browser.chars().take(40).collect();
    match system {
        Some(s) => format!("{browser} / {s}"),
        None => browser,
    }
}

/// Whose access a call is about: the account's holder, or one local user.
/// A local user sees and ends only their own sessions and grants; the
/// holder's authority covers the whole account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whom {
    /// The account.
    pub account_id: i32,
    /// The local user, `None` for the holder.
    pub user_id: Option<i32>,
}

impl Whom {
    /// The account's holder.
    pub fn holder(account_id: i32) -> Self {
        Self {
            account_id,
            user_id: None,
        }
    }

    /// Whether a session belongs to what this caller may see: every
    /// session of the account for the holder, their own for a local user.
    fn reaches(&self, data: &crate::session::SessionData) -> bool {
        self.user_id.is_none() || data.user_id == self.user_id
    }
}

async fn listed(state: &App, whom: Whom) -> Result<Vec<ListedSession>, AppError> {
    Ok(state
        .sessions
        .list(whom.account_id, state.clock.now_secs())
        .await?
        .into_iter()
        .filter(|s| whom.reaches(&s.data))
        .collect())
}

/// Cuts off access at once, wherever it was granted: the browser sessions
/// end, the refresh tokens are revoked, and every access token issued so far
/// stops counting at introspection and userinfo. For the holder it covers
/// the whole account (its local users included); for a local user, that user.
/// `keep` is the caller's own session when it must survive (a password
/// change): it goes on under the returned new id.
///
/// Every event that must end access (sign out everywhere, password change
/// or reset, support ending sessions or removing two-factor, a local user
/// disabled or removed) comes through here, so none of them misses a part.
pub async fn cut_off(
    state: &App,
    whom: Whom,
    keep: Option<&crate::session::SessionData>,
) -> Result<Option<String>, AppError> {
    let now = state.clock.now();
    let db = state.accounts.db();
    let kept = match whom.user_id {
        None => {
            let kept = match keep {
                Some(d) => Some(state.sessions.end_others(whom.account_id, d).await?),
                None => {
                    state.sessions.end_all(whom.account_id).await?;
                    None
                }
            };
            oauth::refresh::revoke_account(db, whom.account_id, now).await?;
            for sub in crate::revocation::subjects_of(&state.accounts, whom.account_id).await? {
                crate::revocation::cut_off(&*state.store, &sub, None).await?;
            }
            kept
        }
        Some(uid) => {
            let epoch = state
                .accounts
                .end_user_sessions(whom.account_id, uid)
                .await?;
            let kept = match keep {
                Some(d) => Some(state.sessions.create_after(d, epoch).await?),
                None => None,
            };
            oauth::refresh::revoke_user(db, whom.account_id, uid, None, now).await?;
            if let Some(u) = state.accounts.find_user(whom.account_id, uid).await? {
                crate::revocation::cut_off(&*state.store, &u.subject, None).await?;
            }
            kept
        }
    };
    Ok(kept)
}

/// The account's live sessions, newest first; `current` is the asking
/// session's `sid`.
pub async fn sessions(
    state: &App,
    whom: Whom,
    current: &str,
) -> Result<Vec<SessionView>, AppError> {
    let mut out: Vec<SessionView> = listed(state, whom)
        .await?
        .into_iter()
        .map(|s| SessionView {
            device: device_of(&s.data.user_agent),
            user_agent: s.data.user_agent.clone(),
            ip: s.data.ip.clone(),
            opened: s.data.created_at,
            last_seen: s.data.last_seen,
            current: !current.is_empty() && s.data.sid == current,
            handle: s.data.sid,
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// Ends the session named `handle`, telling the relying parties that took
/// part. `false` when the caller reaches no such session.
pub async fn end_session(
    state: &Arc<App>,
    whom: Whom,
    handle: &str,
    origin: &Origin,
) -> Result<bool, AppError> {
    if handle.is_empty() {
        return Ok(false);
    }
    let Some(s) = listed(state, whom)
        .await?
        .into_iter()
        .find(|s| s.data.sid == handle)
    else {
        return Ok(false);
    };
    state.sessions.destroy_listed(&s).await?;
    crate::backchannel::tell_participants(state, &s.data).await?;
    seclog::record(
        state,
        whom.account_id,
        whom.user_id,
        EventKind::SessionEnded,
        &crate::access::device_of(&s.data.user_agent),
        origin,
    )
    .await;
    Ok(true)
}

/// Ends every session the caller reaches (this one too) and revokes the
/// matching refresh and access tokens ([`cut_off`]), telling the relying
/// parties of each session.
pub async fn sign_out_everywhere(
    state: &Arc<App>,
    whom: Whom,
    origin: &Origin,
) -> Result<(), AppError> {
    let all = listed(state, whom).await?;
    // The cut-off first: even a session the index missed dies now.
    cut_off(state, whom, None).await?;
    for s in &all {
        state.sessions.destroy_listed(s).await?;
        crate::backchannel::tell_participants(state, &s.data).await?;
    }
    seclog::record(
        state,
        whom.account_id,
        whom.user_id,
        EventKind::SignedOutEverywhere,
        "",
        origin,
    )
    .await;
    Ok(())
}

/// An application the account let in.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AppView {
    /// The client's public identifier.
    pub client_id: String,
    /// Its display name.
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When last granted.
    pub granted_at: chrono::DateTime<Utc>,
}

/// The account's consents, newest first.
pub async fn connected_apps(state: &App, whom: Whom) -> Result<Vec<AppView>, AppError> {
    let db = state.accounts.db();
    let mut out = Vec::new();
    for c in oauth::consents::list_for_account(db, whom.account_id).await? {
        if whom.user_id.is_some_and(|u| u != c.user_id) {
            continue;
        }
        let name = match oauth::clients::find(db, &c.client_id).await? {
            Some(cl) => cl.name,
            None => c.client_id.clone(),
        };
        out.push(AppView {
            name,
            scopes: serde_json::from_str(&c.scopes).unwrap_or_default(),
            granted_at: c.granted_at,
            client_id: c.client_id,
        });
    }
    Ok(out)
}

/// Withdraws the consent to `client_id` and revokes that client's refresh
/// and access tokens: the whole account's for the holder, their own for a
/// local user. `false` when there was no consent.
pub async fn withdraw(
    state: &App,
    whom: Whom,
    client_id: &str,
    origin: &Origin,
) -> Result<bool, AppError> {
    let db = state.accounts.db();
    if client_id.is_empty() || client_id.len() > 128 {
        return Ok(false);
    }
    if !oauth::consents::delete(db, whom.account_id, whom.user_id, client_id).await? {
        return Ok(false);
    }
    let now = state.clock.now();
    match whom.user_id {
        None => {
            oauth::refresh::revoke_client(db, whom.account_id, client_id, now).await?;
            for sub in crate::revocation::subjects_of(&state.accounts, whom.account_id).await? {
                crate::revocation::cut_off(&*state.store, &sub, Some(client_id)).await?;
            }
        }
        Some(uid) => {
            oauth::refresh::revoke_user(db, whom.account_id, uid, Some(client_id), now).await?;
            if let Some(u) = state.accounts.find_user(whom.account_id, uid).await? {
                crate::revocation::cut_off(&*state.store, &u.subject, Some(client_id)).await?;
            }
        }
    }
    seclog::record(
        state,
        whom.account_id,
        whom.user_id,
        EventKind::ConsentWithdrawn,
        client_id,
        origin,
    )
    .await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::device_of;

    #[test]
    fn devices_are_summarised() {
        assert_eq!(
            device_of("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox / Linux"
        );
        assert_eq!(
            device_of(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0"
            ),
            "Edge / Windows"
        );
        assert_eq!(device_of("curl/8.5.0"), "curl");
        assert_eq!(device_of(""), "?");
    }
}
