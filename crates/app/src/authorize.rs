//! Authorize and consent: an authorization request from its arrival to the
//! code, through the detours the one decision ([`crate::authz::decide`])
//! asks for.
//!
//! A request that must wait (for a login, a new backup address, a second
//! factor or consent) is saved in the state store under a random id for
//! [`PENDING_TTL`]. Every way back (the resume after a detour, the consent
//! form) loads it and decides again from the live state, so nothing the
//! browser carries can skip a step. A new front door (a pushed request, a
//! device's user code) validates its request and hands it to [`arrive`],
//! the same as the authorize endpoint does.

use std::time::Duration;

use oauth::authorize::{self, CodeGrant, PendingAuthorization};
use oauth::decision::{self, Step};

use crate::authz::{DecideError, Decided, SignedIn};
use crate::error::AppError;
use crate::services::App;
use crate::session::{SessionData, random_token};

/// How long a request may wait for the login, second-factor and consent
/// pages.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// Where a request goes next. The adapter makes it a redirect or a page;
/// the request id names the saved request the detour comes back with.
#[derive(Debug)]
pub enum Next {
    /// Back to the client: its redirect URI with a code or an error, the
    /// `state` and `iss` added.
    ToClient(String),
    /// Sign in first; `again` when a live session exists but does not meet
    /// `prompt=login` or `max_age`. `login_hint` pre-fills the form.
    SignIn {
        /// The saved request.
        request_id: String,
        /// The identifier to pre-fill.
        login_hint: Option<String>,
        /// Re-authentication of the person signed in.
        again: bool,
    },
    /// Name a new backup address first.
    NewBackupAddress {
        /// The saved request.
        request_id: String,
    },
    /// Pass a second factor (`enrolled`), or enrol one first.
    SecondFactor {
        /// The saved request.
        request_id: String,
        /// Whether the person has one to use.
        enrolled: bool,
    },
    /// Ask the person signed in; only this session's answer will count.
    Consent(Box<ConsentAsk>),
}

/// What the consent page shows.
#[derive(Debug)]
pub struct ConsentAsk {
    /// The saved request, bound to the asking session.
    pub request_id: String,
    /// The person asked.
    pub who: SignedIn,
    /// The client's display name.
    pub client_name: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The relying party's `ui_locales`, as sent.
    pub ui_locales: Option<String>,
}

/// A validated request that has just arrived, with the browser's live
/// session if any.
pub async fn arrive(
    app: &App,
    session: Option<&SessionData>,
    mut pending: PendingAuthorization,
) -> Result<Next, AppError> {
    // A forced sign-in is never met by the session already there, even one
    // that signed in within the same second.
    if decision::forces_sign_in(&pending)
        && let Some(d) = session
    {
        pending.spent_sids.push(d.sid.clone());
    }
    proceed(app, session, pending, None, false).await
}

/// The way back from a detour (login, backup address, second factor): the
/// saved request, decided again.
pub async fn resume(
    app: &App,
    session: Option<&SessionData>,
    request_id: &str,
) -> Result<Next, AppError> {
    let pending = load(app, request_id).await?;
    proceed(app, session, pending, Some(request_id.to_owned()), false).await
}

/// The consent form's answer from session `data`. Only the session the page
/// was shown to may answer; a refusal uses the request up; "allow" is
/// decided again like any other path to a code (a second factor the client
/// requires, a session ended meanwhile, a disabled account all come first),
/// and recorded only when a code follows.
pub async fn answer(
    app: &App,
    data: &SessionData,
    request_id: &str,
    allow: bool,
) -> Result<Next, AppError> {
    let pending = load(app, request_id).await?;
    if pending.bound_sid.as_deref() != Some(data.sid.as_str()) {
        return Err(AppError::RequestGone);
    }
    if !allow {
        app.store.delete(&pending_key(request_id)).await?;
        return Ok(Next::ToClient(error_url(
            app,
            &pending,
            "access_denied",
            "the user denied access",
        )?));
    }
    let decided = decide(app, Some(data), &pending, true).await?;
    if decided.step == Step::Issue && !decided.client.first_party {
        record_consent(app, data, &pending).await?;
    }
    act(
        app,
        Some(data),
        pending,
        Some(request_id.to_owned()),
        decided,
    )
    .await
}

/// The client's redirect URI with `error` and its description (RFC 6749
/// §4.1.2.1), `state` and `iss`.
pub fn error_url(
    app: &App,
    p: &PendingAuthorization,
    error: &str,
    description: &str,
) -> Result<String, AppError> {
    client_url(
        app,
        &p.redirect_uri,
        &[("error", error), ("error_description", description)],
        p.state.as_deref(),
    )
}

/// `redirect_uri` with `params` added, then `state`, and `iss` always
/// (RFC 9207).
pub fn client_url(
    app: &App,
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
) -> Result<String, AppError> {
    let mut url = url::Url::parse(redirect_uri).map_err(|_| AppError::BadRedirectUri)?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &app.oauth.issuer);
    }
    Ok(url.into())
}

async fn proceed(
    app: &App,
    session: Option<&SessionData>,
    pending: PendingAuthorization,
    request_id: Option<String>,
    consent_given: bool,
) -> Result<Next, AppError> {
    let decided = decide(app, session, &pending, consent_given).await?;
    act(app, session, pending, request_id, decided).await
}

async fn decide(
    app: &App,
    session: Option<&SessionData>,
    pending: &PendingAuthorization,
    consent_given: bool,
) -> Result<Decided, AppError> {
    crate::authz::decide(app, session, pending, consent_given)
        .await
        .map_err(|e| match e {
            DecideError::ClientGone => AppError::ClientGone,
            DecideError::Account(e) => AppError::Account(e),
        })
}

/// Does what the decision says: save the request for a detour, or issue
/// the code. `prompt=none` never shows a page: the step's error goes back
/// to the client instead (OIDC Core §3.1.2.6).
async fn act(
    app: &App,
    session: Option<&SessionData>,
    mut pending: PendingAuthorization,
    request_id: Option<String>,
    decided: Decided,
) -> Result<Next, AppError> {
    if let Some((error, description)) = decided.step.prompt_none_error()
        && pending.prompts("none")
    {
        return Ok(Next::ToClient(error_url(
            app,
            &pending,
            error,
            description,
        )?));
    }
    Ok(match decided.step {
        Step::SignIn { again } => {
            // The session that could not satisfy the request never will:
            // only a new sign-in (a new sid) does.
            if let Some(d) = session
                && !pending.spent_sids.iter().any(|s| s == &d.sid)
            {
                pending.spent_sids.push(d.sid.clone());
            }
            pending.bound_sid = None;
            let login_hint = match (&decided.who, again) {
                (Some(w), true) => Some(login_name(w)),
                _ => pending.login_hint.clone(),
            };
            Next::SignIn {
                request_id: save(app, &pending, request_id).await?,
                login_hint,
                again,
            }
        }
        Step::NewBackupAddress => Next::NewBackupAddress {
            request_id: save(app, &pending, request_id).await?,
        },
        Step::SecondFactor { enrolled } => Next::SecondFactor {
            request_id: save(app, &pending, request_id).await?,
            enrolled,
        },
        Step::Consent => {
            let (Some(d), Some(who)) = (session, decided.who) else {
                return Err(AppError::RequestGone);
            };
            pending.bound_sid = Some(d.sid.clone());
            Next::Consent(Box::new(ConsentAsk {
                request_id: save(app, &pending, request_id).await?,
                who,
                client_name: decided.client.name.clone(),
                scopes: pending.scopes.clone(),
                ui_locales: pending.ui_locales.clone(),
            }))
        }
        Step::Issue => {
            let Some(d) = session else {
                return Err(AppError::RequestGone);
            };
            if let Some(id) = &request_id {
                app.store.delete(&pending_key(id)).await?;
            }
            Next::ToClient(issue_code(app, &pending, d).await?)
        }
    })
}

/// How the signed-in person names themselves on the login form: the
/// handle, or `handle/login` for a local user.
fn login_name(w: &SignedIn) -> String {
    match &w.user {
        None => w.account.handle.clone(),
        Some(u) => format!("{}/{}", w.account.handle, u.login),
    }
}

fn pending_key(id: &str) -> String {
    format!("authz:{id}")
}

async fn save(
    app: &App,
    pending: &PendingAuthorization,
    id: Option<String>,
) -> Result<String, AppError> {
    let id = id.unwrap_or_else(random_token);
    let json = serde_json::to_string(pending).map_err(|e| AppError::Internal(e.to_string()))?;
    app.store.set(&pending_key(&id), &json, PENDING_TTL).await?;
    Ok(id)
}

async fn load(app: &App, id: &str) -> Result<PendingAuthorization, AppError> {
    let json = app.store.get(&pending_key(id)).await?;
    json.and_then(|j| serde_json::from_str(&j).ok())
        .ok_or(AppError::RequestGone)
}

/// A one-time code for what session `data` authenticated, stored for
/// `code_ttl`; the client learns of it through the returned URL.
async fn issue_code(
    app: &App,
    pending: &PendingAuthorization,
    data: &SessionData,
) -> Result<String, AppError> {
    let code = random_token();
    let grant = CodeGrant {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        account_id: data.account_id,
        user_id: data.user_id,
        scopes: pending.scopes.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time: data.auth_time,
        amr: data.amr.clone(),
        acr: authorize::acr_of(&data.amr).into(),
        sid: data.sid.clone(),
        issued_at: app.clock.now_secs(),
    };
    let json = serde_json::to_string(&grant).map_err(|e| AppError::Internal(e.to_string()))?;
    app.store
        .set(&crate::grants::code_key(&code), &json, app.config.code_ttl)
        .await?;
    crate::backchannel::note_participant(app, &data.sid, &pending.client_id).await?;
    client_url(
        app,
        &pending.redirect_uri,
        &[("code", &code)],
        pending.state.as_deref(),
    )
}

/// Records the consent just given, for the scopes asked.
async fn record_consent(
    app: &App,
    data: &SessionData,
    pending: &PendingAuthorization,
) -> Result<(), AppError> {
    oauth::consents::record(
        app.accounts.db(),
        data.account_id,
        data.user_id,
        &pending.client_id,
        &pending.scopes,
        app.clock.now(),
    )
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}
