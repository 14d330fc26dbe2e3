//! Writing the security log from the application: the request's IP and browser
//! added to what the domain records, and a failed write logged rather than
//! failing the action it describes.

use accounts::{EventKind, Events, SecurityEvent};
use serde_json::{Value, json};

use crate::notify::SecurityChange;
use std::sync::Arc;

use crate::services::App;

/// Where a change came from: the client IP and browser, empty for operator
/// and background actions.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Client IP.
    pub ip: String,
    /// Browser (`User-Agent`).
    pub user_agent: String,
}

impl Origin {
    /// An origin from a request's IP and browser.
    pub fn new(ip: impl ToString, user_agent: &str) -> Self {
        Self {
            ip: ip.to_string(),
            user_agent: user_agent.to_owned(),
        }
    }

    /// The client IP as an address for the throttle; unspecified when the
    /// origin holds none (an operator's or a background action).
    pub fn ip_addr(&self) -> std::net::IpAddr {
        self.ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// Records one line now; a failure is logged, never returned: the change it
/// describes already happened.
pub async fn record(
    state: &App,
    account_id: i32,
    user_id: Option<i32>,
    kind: EventKind,
    detail: &str,
    origin: &Origin,
) {
    if let Err(e) = Events::record_at(
        state.accounts.db(),
        account_id,
        user_id,
        kind,
        detail,
        &origin.ip,
        &origin.user_agent,
        state.clock.now(),
    )
    .await
    {
        tracing::error!(error = %e, account_id, kind = kind.as_str(), "security log not written");
    }
}

/// [`record`] off the request path, where the caller must not wait (login
/// failures, whose timing must not depend on the account existing).
pub fn record_later(
    state: &Arc<App>,
    account_id: i32,
    user_id: Option<i32>,
    kind: EventKind,
    detail: String,
    origin: Origin,
) {
    let state = state.clone();
    tokio::spawn(async move {
        record(&state, account_id, user_id, kind, &detail, &origin).await;
    });
}

/// The log line of a change that is also mailed as a security notice.
pub fn of_change(change: &SecurityChange) -> (EventKind, String) {
    use SecurityChange as C;
    match change {
        C::MethodAdded { kind, label } => (EventKind::TwoFactorAdded, named(kind.as_str(), label)),
        C::MethodRemoved { kind, label } => {
            (EventKind::TwoFactorRemoved, named(kind.as_str(), label))
        }
        C::RecoveryCodesRegenerated => (EventKind::RecoveryCodesRegenerated, String::new()),
        C::RecoveryCodesDeleted => (EventKind::TwoFactorRemoved, "recovery_codes".into()),
        C::TwoFactorDisabled => (EventKind::TwoFactorDisabled, String::new()),
        C::TwoFactorDisabledBySupport => (EventKind::TwoFactorDisabled, "support".into()),
        C::PasswordChanged => (EventKind::PasswordChanged, String::new()),
        C::PasswordReset => (EventKind::PasswordReset, String::new()),
        C::BackupEmailSet { email } => (EventKind::BackupEmailChanged, email.clone()),
        C::BackupEmailRemoved => (EventKind::BackupEmailChanged, String::new()),
        C::PrimaryEmailChanged { email } => (EventKind::EmailChanged, email.clone()),
        C::PrimaryEmailReplacedBySupport { email } => {
            (EventKind::EmailChanged, format!("{email} (support)"))
        }
        C::BackupPromotedBySupport { email } => {
            (EventKind::EmailChanged, format!("{email} (support)"))
        }
        #[allow(unreachable_patterns)]
        _ => (EventKind::SupportAction, String::new()),
    }
}

fn named(kind: &str, label: &str) -> String {
    if label.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {label}")
    }
}

/// Records a change that is also mailed, off the request path (the notice
/// helpers are synchronous).
pub fn change_later(state: &Arc<App>, account_id: i32, change: &SecurityChange, origin: Origin) {
    let (kind, detail) = of_change(change);
    record_later(state, account_id, None, kind, detail, origin);
}

/// One page of an account's security log, with who did each thing.
pub struct History {
    /// The lines, newest first.
    pub page: accounts::events::EventPage,
    /// The account's local users as `(id, login)`, to name who acted.
    users: Vec<(i32, String)>,
}

impl History {
    /// Who made a line: `None` for the holder, `Some(Some(login))` for a
    /// local user, `Some(None)` for a local user deleted since (never passed
    /// off as the holder).
    pub fn actor(&self, user_id: Option<i32>) -> Option<Option<&str>> {
        user_id.map(|id| {
            self.users
                .iter()
                .find(|(u, _)| *u == id)
                .map(|(_, login)| login.as_str())
        })
    }
}

/// Page `page` (from 1, at most 10,000) of the account's security log.
pub async fn history(app: &App, account_id: i32, page: u64) -> Result<History, crate::AppError> {
    let n = page.clamp(1, 10_000);
    let page = Events::page(app.accounts.db(), account_id, n, app.clock.now()).await?;
    let users = app
        .accounts
        .list_users(account_id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.login))
        .collect();
    Ok(History { page, users })
}

/// A line of the security log as JSON: what happened, from where, by whom
/// and when. The same in the account's data export and in the log's API, so
/// that the holder reads one record one way.
pub fn event_json(e: &SecurityEvent) -> Value {
    json!({
        "kind": e.kind,
        "detail": e.detail,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "user_id": e.user_id,
        "at": e.at,
    })
}
