//! `GET|POST /oauth2/authorize`, the login and consent detours, and the code.

use std::time::Duration;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use oauth::authorize::{self, AuthorizeError, AuthorizeParams, CodeGrant, PendingAuthorization};
use oauth::consents;
use oauth::decision::Step;
use serde::Deserialize;

use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::{CurrentSession, current_lang, first_supported, negotiate_with};
use crate::http::language::ui_locales_cookie;
use crate::i18n::Lang;
use crate::session::{SessionData, random_token};
use crate::state::AppState;
use views::routes;

/// How long a request may wait for the login and consent pages.
const PENDING_TTL: Duration = Duration::from_secs(600);

fn pending_key(id: &str) -> String {
    format!("authz:{id}")
}

/// A redirect to the client with the given parameters added, `iss` always
/// among them (RFC 9207).
fn back_to_client(
    state: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    st: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return AppError::BadRequest(StatusCode::BAD_REQUEST, "invalid redirect_uri".into())
            .into_response();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = st {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &state.oauth.issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

fn error_to_client(
    state: &AppState,
    p: &PendingAuthorization,
    error: &str,
    description: &str,
) -> Response {
    back_to_client(
        state,
        &p.redirect_uri,
        &[("error", error), ("error_description", description)],
        p.state.as_deref(),
    )
}

fn rejected(status: StatusCode, body: String) -> Response {
    AppError::BadRequest(status, body).into_response()
}

pub async fn authorize_get(
    State(state): State<AppState>,
    session: Result<CurrentSession, AppError>,
    params: Result<Query<AuthorizeParams>, QueryRejection>,
) -> Response {
    match params {
        Ok(Query(p)) => start(state, session, p).await,
        Err(r) => AppError::unreadable(r.status()).into_response(),
    }
}

pub async fn authorize_post(
    State(state): State<AppState>,
    session: Result<CurrentSession, AppError>,
    params: Result<Form<AuthorizeParams>, FormRejection>,
) -> Response {
    match params {
        Ok(Form(p)) => start(state, session, p).await,
        Err(r) => AppError::unreadable(r.status()).into_response(),
    }
}

/// The client a request names: from the database, or, while the database
/// cannot answer, as this replica last read it, only to tell its
/// registered redirect URI so (`Err` holds that answer).
async fn client_of(
    state: &AppState,
    p: &AuthorizeParams,
) -> Result<Option<std::sync::Arc<oauth::clients::Client>>, Response> {
    let Some(id) = p
        .client_id
        .as_deref()
        .filter(|id| !id.is_empty() && id.len() <= 128)
    else {
        return Ok(None);
    };
    if !state.database.is_down() {
        match state.oauth.clients.get(state.accounts.db(), id).await {
            Ok(c) => return Ok(c),
            Err(e) if state.database.check().await => {
                return Err(
                    AppError::from(accounts::AccountError::Internal(e.to_string())).into_response(),
                );
            }
            Err(_) => {}
        }
    }
    let now = state.clock.now_secs();
    let remembered = state.oauth.clients.remembered(id);
    Err(match authorize::validate(remembered.as_deref(), p, now) {
        Ok(pending) => unavailable_to_client(state, &pending),
        Err(_) => AppError::DatabaseDown.into_response(),
    })
}

/// `temporarily_unavailable` at the client's validated redirect URI
/// (RFC 6749 §4.1.2.1): a backend is down, nothing was decided.
fn unavailable_to_client(state: &AppState, p: &PendingAuthorization) -> Response {
    let mut resp = error_to_client(
        state,
        p,
        "temporarily_unavailable",
        "the server cannot serve this request now; try again shortly",
    );
    resp.extensions_mut()
        .insert(crate::http::error::DatabaseWasDown);
    resp
}

/// A backend failure met after the request was validated goes back to the
/// client as `temporarily_unavailable`, never as a page the client cannot
/// read; other answers pass unchanged.
async fn outage_to_client(state: &AppState, p: &PendingAuthorization, resp: Response) -> Response {
    let status = resp.status();
    let down = status == StatusCode::SERVICE_UNAVAILABLE
        || (status == StatusCode::INTERNAL_SERVER_ERROR && !state.database.check().await);
    if down {
        unavailable_to_client(state, p)
    } else {
        resp
    }
}

async fn start(
    state: AppState,
    session: Result<CurrentSession, AppError>,
    p: AuthorizeParams,
) -> Response {
    let client = match client_of(&state, &p).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let now = state.clock.now_secs();
    match authorize::validate(client.as_deref(), &p, now) {
        Ok(mut pending) => {
            let session = match session {
                Ok(s) => s.0,
                Err(e) => return outage_to_client(&state, &pending, e.into_response()).await,
            };
            // A forced sign-in is never met by the session already there,
            // even one that signed in within the same second.
            if oauth::decision::forces_sign_in(&pending)
                && let Some((_, d)) = &session
            {
                pending.spent_sids.push(d.sid.clone());
            }
            // The relying party's `ui_locales` follows the browser through
            // the login detour; a request without one forgets an old one.
            let ui = pending.ui_locales.as_deref().and_then(first_supported);
            let cookie = ui_locales_cookie(&state.config, ui);
            let answered = proceed(&state, session, pending.clone(), None, false).await;
            let mut resp = outage_to_client(&state, &pending, answered).await;
            if let Ok(v) = cookie.parse() {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(AuthorizeError::NoRedirect(why)) => rejected(
            StatusCode::BAD_REQUEST,
            views::text::tr_fmt(
                current_lang(),
                "page.authorize.cannot_process",
                &[("why", why)],
            ),
        ),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: st,
            error,
            description,
        }) => back_to_client(
            &state,
            &redirect_uri,
            &[("error", error), ("error_description", &description)],
            st.as_deref(),
        ),
    }
}

/// Carries a validated request forward along the one decision
/// ([`crate::authz::decide`]): sign in, a new backup address, a second
/// factor, consent, then a code. `request_id` is set when the request was
/// already saved; `consent_given` only by the consent form of the session
/// the request is bound to.
async fn proceed(
    state: &AppState,
    session: Option<(String, SessionData)>,
    pending: PendingAuthorization,
    request_id: Option<String>,
    consent_given: bool,
) -> Response {
    let data = session.as_ref().map(|(_, d)| d);
    match decide(state, data, &pending, consent_given).await {
        Ok(decided) => act(state, data, pending, request_id, decided).await,
        Err(r) => r,
    }
}

async fn decide(
    state: &AppState,
    data: Option<&SessionData>,
    pending: &PendingAuthorization,
    consent_given: bool,
) -> Result<crate::authz::Decided, Response> {
    crate::authz::decide(state, data, pending, consent_given)
        .await
        .map_err(|e| match e {
            crate::authz::DecideError::ClientGone => {
                AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.client_gone")
                    .into_response()
            }
            crate::authz::DecideError::Account(e) => AppError::from(e).into_response(),
        })
}

/// Does what the decision says: a page or detour, saving the request, or
/// the code.
async fn act(
    state: &AppState,
    data: Option<&SessionData>,
    mut pending: PendingAuthorization,
    request_id: Option<String>,
    decided: crate::authz::Decided,
) -> Response {
    if let Some((error, description)) = decided.step.prompt_none_error()
        && pending.prompts("none")
    {
        return error_to_client(state, &pending, error, description);
    }
    let next_of = |id: &str| routes::with_query(routes::AUTHORIZE_RESUME, &[("request_id", id)]);
    match decided.step {
        Step::SignIn { again } => {
            // The session that could not satisfy the request never will:
            // only a new sign-in (a new sid) does.
            if let Some(d) = data
                && !pending.spent_sids.iter().any(|s| s == &d.sid)
            {
                pending.spent_sids.push(d.sid.clone());
            }
            pending.bound_sid = None;
            let id = match save(state, &pending, request_id).await {
                Ok(id) => id,
                Err(r) => return r,
            };
            let hint = match (&decided.who, again) {
                // Re-authentication: the account signed in, pre-filled.
                (Some(w), true) => Some(login_name(w)),
                _ => pending.login_hint.clone(),
            };
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("next", &next_of(&id));
            if let Some(h) = &hint {
                q.append_pair("login_hint", h);
            }
            if again {
                q.append_pair("reauth", "1");
            }
            Redirect::to(&format!("{}?{}", routes::LOGIN, q.finish())).into_response()
        }
        Step::NewBackupAddress => {
            let id = match save(state, &pending, request_id).await {
                Ok(id) => id,
                Err(r) => return r,
            };
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next_of(&id))
                .finish();
            Redirect::to(&format!("{}?{q}", routes::BACKUP_EMAIL)).into_response()
        }
        Step::SecondFactor { enrolled } => {
            let id = match save(state, &pending, request_id).await {
                Ok(id) => id,
                Err(r) => return r,
            };
            let page = if enrolled {
                routes::LOGIN_2FA
            } else {
                routes::SECURITY
            };
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next_of(&id))
                .finish();
            Redirect::to(&format!("{page}?{q}")).into_response()
        }
        Step::Consent => {
            let (Some(d), Some(w)) = (data, decided.who.as_ref()) else {
                return AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.expired")
                    .into_response();
            };
            // Only this session's answer will count.
            pending.bound_sid = Some(d.sid.clone());
            let id = match save(state, &pending, request_id).await {
                Ok(id) => id,
                Err(r) => return r,
            };
            let lang = negotiate_with(
                Some(Lang::parse(&w.account.language)),
                pending.ui_locales.as_deref().and_then(first_supported),
            );
            let page = views::pages::consent::consent(
                lang,
                views::components::Who::of(&w.account),
                &decided.client.name,
                &pending.scopes,
                &id,
                &d.csrf,
            );
            Html(page.into_string()).into_response()
        }
        Step::Issue => {
            let Some(d) = data else {
                return AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.expired")
                    .into_response();
            };
            if let Some(id) = &request_id
                && let Err(e) = state.store.delete(&pending_key(id)).await
            {
                return AppError::from(e).into_response();
            }
            issue_code(state, &pending, d).await
        }
    }
}

/// How the signed-in person names themselves on the login form: the
/// handle, or `handle/login` for a local user.
fn login_name(w: &crate::authz::SignedIn) -> String {
    match &w.user {
        None => w.account.handle.clone(),
        Some(u) => format!("{}/{}", w.account.handle, u.login),
    }
}

async fn save(
    state: &AppState,
    pending: &PendingAuthorization,
    id: Option<String>,
) -> Result<String, Response> {
    let id = id.unwrap_or_else(random_token);
    let json = serde_json::to_string(pending).unwrap_or_default();
    state
        .store
        .set(&pending_key(&id), &json, PENDING_TTL)
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    Ok(id)
}

async fn issue_code(
    state: &AppState,
    pending: &PendingAuthorization,
    data: &SessionData,
) -> Response {
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
        issued_at: state.clock.now_secs(),
    };
    let json = serde_json::to_string(&grant).unwrap_or_default();
    if let Err(e) = state
        .store
        .set(&app::grants::code_key(&code), &json, state.config.code_ttl)
        .await
    {
        return AppError::from(e).into_response();
    }
    if let Err(e) = app::backchannel::note_participant(state, &data.sid, &pending.client_id).await {
        return AppError::from(e).into_response();
    }
    back_to_client(
        state,
        &pending.redirect_uri,
        &[("code", &code)],
        pending.state.as_deref(),
    )
}

async fn load_pending(state: &AppState, id: &str) -> Result<PendingAuthorization, Response> {
    let json = state
        .store
        .get(&pending_key(id))
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    json.and_then(|j| serde_json::from_str(&j).ok())
        .ok_or_else(|| {
            AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.expired").into_response()
        })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResumeQuery {
    request_id: String,
}

/// Where the login page sends the browser back.
pub async fn resume(
    State(state): State<AppState>,
    session: CurrentSession,
    Query(q): Query<ResumeQuery>,
) -> Response {
    let pending = match load_pending(&state, &q.request_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    proceed(&state, session.0, pending, Some(q.request_id), false).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    csrf: String,
    request_id: String,
    decision: String,
}

/// The consent page's answer.
/// The consent form, its session and the request it answers: only the
/// session the consent page was shown to may answer it.
async fn answering(
    state: &AppState,
    session: CurrentSession,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<(ConsentForm, SessionData, PendingAuthorization), Response> {
    let Form(f) = form.map_err(|r| AppError::unreadable(r.status()).into_response())?;
    let Some((_, data)) = session.0 else {
        return Err(Redirect::to(routes::LOGIN).into_response());
    };
    csrf::matches(&data.csrf, &f.csrf).map_err(IntoResponse::into_response)?;
    let pending = load_pending(state, &f.request_id).await?;
    if pending.bound_sid.as_deref() != Some(data.sid.as_str()) {
        return Err(
            AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.expired").into_response(),
        );
    }
    Ok((f, data, pending))
}

pub async fn consent(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let (f, data, pending) = match answering(&state, session, form).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if f.decision != "allow" {
        // The request is used up by a refusal.
        if let Err(e) = state.store.delete(&pending_key(&f.request_id)).await {
            return AppError::from(e).into_response();
        }
        return error_to_client(&state, &pending, "access_denied", "the user denied access");
    }
    // The whole decision again, as for any other path to a code: a second
    // factor the client requires, a session ended meanwhile, a disabled
    // account all come before the consent is recorded.
    let decided = match decide(&state, Some(&data), &pending, true).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    if decided.step == Step::Issue
        && !decided.client.first_party
        && let Err(e) = record_consent(&state, &data, &pending).await
    {
        return e.into_response();
    }
    act(&state, Some(&data), pending, Some(f.request_id), decided).await
}

/// Records the consent just given, for the scopes asked.
async fn record_consent(
    state: &AppState,
    data: &SessionData,
    pending: &PendingAuthorization,
) -> Result<(), AppError> {
    let now = state.clock.now();
    consents::record(
        state.accounts.db(),
        data.account_id,
        data.user_id,
        &pending.client_id,
        &pending.scopes,
        now,
    )
    .await
    .map_err(|e| AppError::from(accounts::AccountError::Internal(e.to_string())))
}
