//! Who a session signs in, read live, and the one authorization decision
//! every path to a code or a token goes through.
//!
//! [`signed_in`] is the only judge of whether a session still counts: the
//! session extractor calls it on every request, so a session ended by "sign
//! out everywhere", a password change, a disabled account or a disabled or
//! removed local user is no session anywhere, the consent form included.
//! [`decide`] gathers the live facts a code depends on and hands them to
//! [`oauth::decision::decide`], which judges; [`later_grant`] does the same
//! for grants that come after (refresh).

use accounts::{Account, AccountError, AccountStatus, LocalUser, UserStatus};
use oauth::authorize::PendingAuthorization;
use oauth::clients::Client;
use oauth::decision::{self, Facts, SessionFacts, Step};

use crate::services::App;
use crate::session::SessionData;

/// The person a live session signs in.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The account, active.
    pub account: Account,
    /// The local user, active, when not the holder.
    pub user: Option<LocalUser>,
}

/// Re-reads what a session stands on: the account must be active, and a
/// local user's session must belong to an active user and be newer than
/// the user's last "end my sessions" (password change, disable, removal).
/// `None` when the session no longer counts.
pub async fn signed_in(state: &App, data: &SessionData) -> Result<Option<SignedIn>, AccountError> {
    let Some(account) = state
        .accounts
        .find_by_id(data.account_id)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
    else {
        return Ok(None);
    };
    let user = match data.user_id {
        None => None,
        Some(uid) => match state.accounts.find_user(account.id, uid).await? {
            Some(u) if u.status == UserStatus::Active && data.opened_ms > u.session_epoch_ms => {
                Some(u)
            }
            _ => return Ok(None),
        },
    };
    Ok(Some(SignedIn { account, user }))
}

/// Whether a session authenticated recently enough for a change of security
/// or recovery data: a password within `login.recent_auth`, and a second
/// factor as well when `identity` has two-factor. Every such change, on any
/// page or API, asks this one question.
pub async fn is_recent(
    app: &App,
    data: &SessionData,
    identity: &str,
) -> Result<bool, crate::error::AppError> {
    let now = app.clock.now_secs();
    if now - data.auth_time > app.config.login.recent_auth.as_secs() as i64 {
        return Ok(false);
    }
    let on = app.mfa.is_enabled(identity).await?;
    Ok(!on || data.amr.iter().any(|a| a == "mfa"))
}

/// The outcome of [`decide`] with what the caller needs to act on it.
pub struct Decided {
    /// What must happen next.
    pub step: Step,
    /// The person signed in, when a live session exists.
    pub who: Option<SignedIn>,
    /// The client, as registered now.
    pub client: std::sync::Arc<Client>,
}

/// Why no decision could be made.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The client was removed since the request arrived.
    #[error("client gone")]
    ClientGone,
    /// A backend failed.
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// The authorization decision for a saved or fresh request, read from the
/// live state: the client now, the session's person now (see
/// [`signed_in`]), their second factors and their consent. `consent_given`
/// is set only by the consent form of the session the request is bound to.
pub async fn decide(
    state: &App,
    session: Option<&SessionData>,
    pending: &PendingAuthorization,
    consent_given: bool,
) -> Result<Decided, DecideError> {
    let db = state.accounts.db();
    let client = state
        .oauth
        .clients
        .get(db, &pending.client_id)
        .await
        .map_err(internal)?
        .ok_or(DecideError::ClientGone)?;
    let who = match session {
        Some(d) => signed_in(state, d).await?,
        None => None,
    };
    let (Some(data), Some(w)) = (session, who.as_ref()) else {
        let facts = facts_without_session(&client, state.clock.now_secs());
        return Ok(Decided {
            step: decision::decide(pending, &facts),
            who: None,
            client,
        });
    };
    let user_id = w.user.as_ref().map(|u| u.id);
    let enrolled = state
        .mfa
        .is_enabled(&crate::twofactor::identity_of(w.account.id, user_id))
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    let on_record = !client.first_party
        && oauth::consents::covers(
            db,
            w.account.id,
            user_id,
            &client.client_id,
            &pending.scopes,
        )
        .await
        .map_err(internal)?;
    let facts = Facts {
        now: state.clock.now_secs(),
        session: Some(SessionFacts {
            sid: &data.sid,
            auth_time: data.auth_time,
            amr: &data.amr,
            holder: w.user.is_none(),
        }),
        must_set_backup: w.account.must_set_backup,
        client_requires_2fa: client.requires_2fa,
        first_party: client.first_party,
        consent_on_record: on_record,
        consent_given,
        second_factor_enrolled: enrolled,
    };
    let step = decision::decide(pending, &facts);
    Ok(Decided { step, who, client })
}

fn facts_without_session(client: &Client, now: i64) -> Facts<'static> {
    Facts {
        now,
        session: None,
        must_set_backup: false,
        client_requires_2fa: client.requires_2fa,
        first_party: client.first_party,
        consent_on_record: false,
        consent_given: false,
        second_factor_enrolled: false,
    }
}

fn internal(e: oauth::OAuthError) -> AccountError {
    AccountError::Internal(e.to_string())
}

/// What a later grant (a refresh) checks again: the account and local user
/// still active, the client's demand for a second factor against how the
/// grant was authenticated, and the consent still on record.
pub async fn later_grant(
    state: &App,
    client: &Client,
    account_id: i32,
    user_id: Option<i32>,
    acr: &str,
    scopes: &[String],
) -> Result<Result<(), &'static str>, AccountError> {
    let db = state.accounts.db();
    let Some(account) = state
        .accounts
        .find_by_id(account_id)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
    else {
        return Ok(Err("the account is no longer active"));
    };
    if let Some(uid) = user_id {
        let user = state.accounts.find_user(account.id, uid).await?;
        if user.is_none_or(|u| u.status != UserStatus::Active) {
            return Ok(Err("the account is no longer active"));
        }
    }
    let on_record = client.first_party
        || oauth::consents::covers(db, account.id, user_id, &client.client_id, scopes)
            .await
            .map_err(internal)?;
    Ok(decision::later_grant_allowed(
        client.requires_2fa,
        acr,
        client.first_party,
        on_record,
    ))
}

/// The `sub` relying parties know a session or grant by: the holder's, or the
/// local user's own, whatever their status now (logout must still reach them).
pub async fn subject_of(state: &App, account_id: i32, user_id: Option<i32>) -> Option<String> {
    match user_id {
        None => state
            .accounts
            .find_by_id(account_id)
            .await
            .ok()
            .flatten()
            .map(|a| a.subject),
        Some(uid) => state
            .accounts
            .find_user(account_id, uid)
            .await
            .ok()
            .flatten()
            .map(|u| u.subject),
    }
}

/// Whether a verified access token still counts: not revoked or cut off
/// ([`crate::revocation`]), and its subject, when a person, still active
/// (a disabled account or local user, whatever disabled it, the command
/// line included, ends its tokens at once). Introspection and userinfo both
/// ask here.
pub async fn access_token_counts(
    state: &App,
    claims: &serde_json::Value,
) -> Result<bool, crate::error::AppError> {
    if crate::revocation::is_revoked(&*state.store, claims).await? {
        return Ok(false);
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    // A client's own token (client credentials) names the client.
    if sub.is_empty() || claims["client_id"].as_str() == Some(sub) {
        return Ok(true);
    }
    if let Some(a) = state.accounts.find_by_subject(sub).await? {
        return Ok(a.status == AccountStatus::Active);
    }
    Ok(match state.accounts.find_user_by_subject(sub).await? {
        Some((a, u)) => a.status == AccountStatus::Active && u.status == UserStatus::Active,
        None => false,
    })
}
