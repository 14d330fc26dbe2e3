//! `GET|POST /oauth2/authorize`, the login and consent detours, and the code.

use std::time::Duration;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use oauth::authorize::{self, AuthorizeError, AuthorizeParams, CodeGrant, PendingAuthorization};
use oauth::consents;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::{CurrentSession, current_lang, first_supported, negotiate_with};
use crate::http::language::ui_locales_cookie;
use crate::http::pages;
use crate::i18n::Lang;
use crate::session::{SessionData, random_token};
use crate::state::AppState;

/// How long a request may wait for the login and consent pages.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// The store key of a code: its SHA-256, so the store holds no usable code.
pub fn code_key(code: &str) -> String {
    format!("code:{}", hex::encode(Sha256::digest(code.as_bytes())))
}

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
    session: CurrentSession,
    params: Result<Query<AuthorizeParams>, QueryRejection>,
) -> Response {
    match params {
        Ok(Query(p)) => start(state, session, p).await,
        Err(r) => AppError::unreadable(r.status()).into_response(),
    }
}

pub async fn authorize_post(
    State(state): State<AppState>,
    session: CurrentSession,
    params: Result<Form<AuthorizeParams>, FormRejection>,
) -> Response {
    match params {
        Ok(Form(p)) => start(state, session, p).await,
        Err(r) => AppError::unreadable(r.status()).into_response(),
    }
}

async fn start(state: AppState, session: CurrentSession, p: AuthorizeParams) -> Response {
    let client = match p.client_id.as_deref() {
        Some(id) if !id.is_empty() && id.len() <= 128 => {
            match state.oauth.clients.get(state.accounts.db(), id).await {
                Ok(c) => c,
                Err(e) => {
                    return AppError::from(accounts::AccountError::Internal(e.to_string()))
                        .into_response();
                }
            }
        }
        _ => None,
    };
    let now = chrono::Utc::now().timestamp();
    match authorize::validate(client.as_deref(), &p, now) {
        Ok(pending) => {
            // The relying party's `ui_locales` follows the browser through
            // the login detour; a request without one forgets an old one.
            let ui = pending.ui_locales.as_deref().and_then(first_supported);
            let cookie = ui_locales_cookie(&state.config, ui);
            let mut resp = proceed(&state, session.0, pending, None).await;
            if let Ok(v) = cookie.parse() {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(AuthorizeError::NoRedirect(why)) => rejected(
            StatusCode::BAD_REQUEST,
            pages::tr_fmt(
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

/// Carries a validated request forward: login if needed, consent if needed,
/// then a code. `request_id` is set when the request was already saved.
async fn proceed(
    state: &AppState,
    session: Option<(String, SessionData)>,
    pending: PendingAuthorization,
    request_id: Option<String>,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    let fresh_enough = |d: &SessionData| {
        let forced = pending.prompts("login") || pending.prompts("select_account");
        let after_forced = !forced || d.auth_time >= pending.created_at;
        let young = pending.max_age.is_none_or(|m| now - d.auth_time <= m);
        after_forced && young
    };
    let account = match &session {
        Some((_, d)) if fresh_enough(d) => match state.accounts.find_by_id(d.account_id).await {
            Ok(a) => a.filter(|a| a.status == "active"),
            Err(e) => return AppError::from(e).into_response(),
        },
        _ => None,
    };
    let lang = negotiate_with(
        account.as_ref().map(|a| Lang::parse(&a.language)),
        pending.ui_locales.as_deref().and_then(first_supported),
    );
    // A local user's session counts only while the user is active and the
    // session is newer than their last password change.
    let account = match (account, session.as_ref().map(|(_, d)| d)) {
        (Some(a), Some(d)) if d.user_id.is_some() => {
            match state
                .accounts
                .find_user(a.id, d.user_id.unwrap_or_default())
                .await
            {
                Ok(Some(u)) if u.status == "active" && d.opened_ms > u.session_epoch_ms => Some(a),
                Ok(_) => None,
                Err(e) => return AppError::from(e).into_response(),
            }
        }
        (a, _) => a,
    };
    let Some(account) = account else {
        if pending.prompts("none") {
            return error_to_client(state, &pending, "login_required", "the user must log in");
        }
        let id = match save(state, &pending, request_id).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        let next = format!("/oauth2/authorize/resume?request_id={id}");
        let mut login = url::Url::parse("http://x/login").expect("static URL");
        login.query_pairs_mut().append_pair("next", &next);
        if let Some(h) = &pending.login_hint {
            login.query_pairs_mut().append_pair("login_hint", h);
        }
        let target = format!("/login?{}", login.query().unwrap_or(""));
        return Redirect::to(&target).into_response();
    };
    let (_, data) = session.expect("an account implies a session");
    if account.must_set_backup && data.user_id.is_none() {
        // Support promoted the backup address: a new backup comes before
        // anything else, signing in to an application included.
        if pending.prompts("none") {
            return error_to_client(
                state,
                &pending,
                "interaction_required",
                "the account must name a new backup email first",
            );
        }
        let id = match save(state, &pending, request_id).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        let next = format!("/oauth2/authorize/resume?request_id={id}");
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &next)
            .finish();
        return Redirect::to(&format!("/account/backup-email?{q}")).into_response();
    }

    let client = match state
        .oauth
        .clients
        .get(state.accounts.db(), &pending.client_id)
        .await
    {
        Ok(Some(c)) => c,
        _ => {
            return AppError::Refused(StatusCode::BAD_REQUEST, "page.authorize.client_gone")
                .into_response();
        }
    };
    // A second factor, when the client or its request wants one and this
    // session has not used one: the step-up page for an account with
    // two-factor, enrolment for one without. Never a code before that.
    if (client.requires_2fa || pending.asks_for_mfa())
        && authorize::acr_of(&data.amr) != authorize::ACR_MFA
    {
        if pending.prompts("none") {
            return error_to_client(
                state,
                &pending,
                "interaction_required",
                "a second factor is required",
            );
        }
        let id = match save(state, &pending, request_id).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        let next = format!("/oauth2/authorize/resume?request_id={id}");
        let enabled = match state
            .mfa
            .is_enabled(&crate::twofactor::identity_of(account.id, data.user_id))
            .await
        {
            Ok(on) => on,
            Err(e) => return AppError::from(e).into_response(),
        };
        let page = if enabled {
            "/login/2fa"
        } else {
            "/account/security"
        };
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &next)
            .finish();
        return Redirect::to(&format!("{page}?{q}")).into_response();
    }
    let consented = client.first_party
        || (!pending.prompts("consent")
            && consents::covers(
                state.accounts.db(),
                account.id,
                data.user_id,
                &client.client_id,
                &pending.scopes,
            )
            .await
            .unwrap_or(false));
    if !consented {
        if pending.prompts("none") {
            return error_to_client(state, &pending, "consent_required", "the user must consent");
        }
        let id = match save(state, &pending, request_id).await {
            Ok(id) => id,
            Err(r) => return r,
        };
        let page = pages::consent(
            lang,
            pages::Who::of(&account),
            &client.name,
            &pending.scopes,
            &id,
            &data.csrf,
        );
        return Html(page.into_string()).into_response();
    }
    issue_code(state, &pending, &data).await
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
    };
    let json = serde_json::to_string(&grant).unwrap_or_default();
    if let Err(e) = state
        .store
        .set(&code_key(&code), &json, state.config.code_ttl)
        .await
    {
        return AppError::from(e).into_response();
    }
    if let Err(e) = super::logout::note_participant(state, &data.sid, &pending.client_id).await {
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
    proceed(&state, session.0, pending, Some(q.request_id)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    csrf: String,
    request_id: String,
    decision: String,
}

/// The consent page's answer.
pub async fn consent(
    State(state): State<AppState>,
    session: CurrentSession,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(r) => return AppError::unreadable(r.status()).into_response(),
    };
    let Some((_, data)) = session.0 else {
        return Redirect::to("/login").into_response();
    };
    if let Err(e) = csrf::matches(&data.csrf, &f.csrf) {
        return e.into_response();
    }
    let pending = match load_pending(&state, &f.request_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // The request is used up whatever the answer.
    if let Err(e) = state.store.delete(&pending_key(&f.request_id)).await {
        return AppError::from(e).into_response();
    }
    if f.decision != "allow" {
        return error_to_client(&state, &pending, "access_denied", "the user denied access");
    }
    let now = chrono::Utc::now();
    if let Err(e) = consents::record(
        state.accounts.db(),
        data.account_id,
        data.user_id,
        &pending.client_id,
        &pending.scopes,
        now,
    )
    .await
    {
        return AppError::from(accounts::AccountError::Internal(e.to_string())).into_response();
    }
    issue_code(&state, &pending, &data).await
}
