//! `GET|POST /oauth2/authorize`, the resume after a detour and the consent
//! form, over HTTP: reading the request, the browser's session and the
//! anti-CSRF field, and turning where [`app::authorize`] says the request
//! goes next into a redirect or the consent page.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use oauth::authorize::{self, AuthorizeError, AuthorizeParams, PendingAuthorization};
use serde::Deserialize;

use app::authorize::{ConsentAsk, Next};

use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::CurrentSession;
use crate::http::language::ui_locales_cookie;
use crate::http::locale::{current_lang, first_supported, negotiate_with};
use crate::state::AppState;
use app::i18n::Lang;
use app::session::SessionData;
use views::routes;

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
    let mut resp = to_client(app::authorize::error_url(
        state,
        p,
        "temporarily_unavailable",
        "the server cannot serve this request now; try again shortly",
    ));
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
        Ok(pending) => {
            let session = match session {
                Ok(s) => s.0,
                Err(e) => return outage_to_client(&state, &pending, e.into_response()).await,
            };
            // The relying party's `ui_locales` follows the browser through
            // the login detour; a request without one forgets an old one.
            let ui = pending.ui_locales.as_deref().and_then(first_supported);
            let cookie = ui_locales_cookie(&state.config, ui);
            let data = session.as_ref().map(|(_, d)| d);
            let next = app::authorize::arrive(&state, data, pending.clone()).await;
            let resp = outage_to_client(&state, &pending, answer(next, data)).await;
            (cookie, resp).into_response()
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
        }) => to_client(app::authorize::client_url(
            &state,
            &redirect_uri,
            &[("error", error), ("error_description", &description)],
            st.as_deref(),
        )),
    }
}

fn to_client(url: Result<String, app::AppError>) -> Response {
    match url {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Where the request goes next ([`app::authorize`] decided), as a redirect
/// or the consent page; `data` is the session whose token the consent form
/// carries.
fn answer(next: Result<Next, app::AppError>, data: Option<&SessionData>) -> Response {
    let next = match next {
        Ok(n) => n,
        Err(e) => return AppError::from(e).into_response(),
    };
    let resume = |id: &str| routes::with_query(routes::AUTHORIZE_RESUME, &[("request_id", id)]);
    let detour = |page: &str, id: &str| {
        Redirect::to(&routes::with_query(page, &[("next", &resume(id))])).into_response()
    };
    match next {
        Next::ToClient(url) => Redirect::to(&url).into_response(),
        Next::SignIn {
            request_id,
            login_hint,
            again,
        } => {
            let next = resume(&request_id);
            let mut q = vec![("next", next.as_str())];
            if let Some(h) = &login_hint {
                q.push(("login_hint", h));
            }
            if again {
                q.push(("reauth", "1"));
            }
            Redirect::to(&routes::with_query(routes::LOGIN, &q)).into_response()
        }
        Next::NewBackupAddress { request_id } => detour(routes::BACKUP_EMAIL, &request_id),
        Next::SecondFactor {
            request_id,
            enrolled: true,
        } => detour(routes::LOGIN_2FA, &request_id),
        Next::SecondFactor { request_id, .. } => detour(routes::SECURITY, &request_id),
        Next::Consent(ask) => consent_page(&ask, data),
    }
}

fn consent_page(ask: &ConsentAsk, data: Option<&SessionData>) -> Response {
    let Some(d) = data else {
        return AppError::from(app::AppError::RequestGone).into_response();
    };
    let lang = negotiate_with(
        Some(Lang::parse(&ask.who.account.language)),
        ask.ui_locales.as_deref().and_then(first_supported),
    );
    let page = views::pages::consent::consent(
        lang,
        views::components::Who::of(&ask.who.account),
        &ask.client_name,
        &ask.scopes,
        &ask.request_id,
        &d.csrf,
    );
    Html(page.into_string()).into_response()
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
    let data = session.0.as_ref().map(|(_, d)| d);
    answer(
        app::authorize::resume(&state, data, &q.request_id).await,
        data,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    csrf: String,
    request_id: String,
    decision: String,
}

/// The consent page's answer, from a session whose anti-CSRF token it
/// carries ([`app::authorize::answer`] checks it is the session the page
/// was shown to).
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
        return Redirect::to(routes::LOGIN).into_response();
    };
    if let Err(e) = csrf::matches(&data.csrf, &f.csrf) {
        return e.into_response();
    }
    let allow = f.decision == "allow";
    let next = app::authorize::answer(&state, &data, &f.request_id, allow).await;
    answer(next, Some(&data))
}
