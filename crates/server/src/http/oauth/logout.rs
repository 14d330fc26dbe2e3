//! Logout: RP-initiated (`/oauth2/logout`, OIDC RP-Initiated Logout 1.0).
//! The back-channel notices to every client that took part in the session
//! (OIDC Back-Channel Logout 1.0) are `app::backchannel`'s; this adapter
//! only POSTs them ([`crate::back_channel::ReqwestBackChannel`]).

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth::SigningAlg;
use oauth::clients::list;
use serde::Deserialize;
use serde_json::Value;

use crate::http::cookies;
use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::extract::CurrentSession;
use crate::http::locale::current_lang;
use crate::state::AppState;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    csrf: Option<String>,
    confirm: Option<String>,
}

/// The claims of an ID token this server issued, checked for signature even
/// when it has expired (a hint is usually old).
async fn hint_claims(state: &AppState, token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let unverified: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let iat = unverified["iat"].as_i64()?;
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(iat, 0)?;
    let claims = state
        .oauth
        .keys
        .verify_jwt(token, &SigningAlg::ALL, at)
        .await
        .ok()?;
    (claims["iss"] == state.oauth.issuer.as_str()).then_some(claims)
}

/// A message page; `title` and `text` are translation keys.
fn page(title: &str, text: &str, status: StatusCode) -> Response {
    let lang = current_lang();
    let page = views::components::message(
        lang,
        views::text::tr(lang, title),
        views::text::tr(lang, text),
    );
    (status, Html(page.into_string())).into_response()
}

pub async fn logout_get(
    State(state): State<AppState>,
    session: CurrentSession,
    q: Result<Query<LogoutParams>, QueryRejection>,
) -> Response {
    match q {
        Ok(Query(p)) => logout(state, session, p, false).await,
        Err(r) => page(
            "page.error.refused_title",
            "page.error.bad_form",
            r.status(),
        ),
    }
}

pub async fn logout_post(
    State(state): State<AppState>,
    session: CurrentSession,
    f: Result<Form<LogoutParams>, FormRejection>,
) -> Response {
    match f {
        Ok(Form(p)) => logout(state, session, p, true).await,
        Err(r) => page(
            "page.error.refused_title",
            "page.error.bad_form",
            r.status(),
        ),
    }
}

async fn logout(
    state: AppState,
    session: CurrentSession,
    p: LogoutParams,
    is_post: bool,
) -> Response {
    let hint = match &p.id_token_hint {
        Some(t) => match hint_claims(&state, t).await {
            Some(c) => Some(c),
            None => {
                return page(
                    "page.logout.refused_title",
                    "page.logout.bad_hint",
                    StatusCode::BAD_REQUEST,
                );
            }
        },
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|c| match &c["aud"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    });
    if let (Some(a), Some(c)) = (&hint_aud, &p.client_id)
        && a != c
    {
        return page(
            "page.logout.refused_title",
            "page.logout.client_mismatch",
            StatusCode::BAD_REQUEST,
        );
    }
    let client_id = hint_aud.or(p.client_id.clone());
    // Where to go afterwards: only a URI registered for the client, never another.
    let redirect = match &p.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => state
                    .oauth
                    .clients
                    .get(state.accounts.db(), id)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            match client {
                Some(c) if list(&c.post_logout_redirect_uris).iter().any(|u| u == uri) => {
                    Some(uri.clone())
                }
                _ => {
                    return page(
                        "page.logout.refused_title",
                        "page.logout.uri_unregistered",
                        StatusCode::BAD_REQUEST,
                    );
                }
            }
        }
    };
    let finish = |state: &AppState| {
        let resp = match &redirect {
            Some(uri) => {
                let mut url = match url::Url::parse(uri) {
                    Ok(u) => u,
                    Err(_) => {
                        return page(
                            "page.logout.title",
                            "page.logout.done_short",
                            StatusCode::OK,
                        );
                    }
                };
                if let Some(s) = &p.state {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Redirect::to(url.as_str()).into_response()
            }
            None => page("page.logout.done_title", "page.logout.done", StatusCode::OK),
        };
        (cookies::end_session(&state.config), resp).into_response()
    };
    let Some((id, data)) = session.0 else {
        return finish(&state);
    };
    let account_subject = app::authz::subject_of(&state, data.account_id, data.user_id).await;
    let hint_matches = hint
        .as_ref()
        .is_some_and(|c| account_subject.as_deref().is_some_and(|s| c["sub"] == s));
    let confirmed = is_post
        && p.confirm.as_deref() == Some("yes")
        && csrf::matches(&data.csrf, p.csrf.as_deref().unwrap_or("")).is_ok();
    if hint_matches || confirmed {
        if let Err(e) = app::backchannel::end_session(&state, &id, &data).await {
            return AppError::from(e).into_response();
        }
        return finish(&state);
    }
    // No proof that the relying party speaks for this user: ask the user.
    let lang = current_lang();
    let carried = views::pages::logout::LogoutRequest {
        client_id: client_id.as_deref(),
        post_logout_redirect_uri: redirect.as_deref(),
        state: p.state.as_deref(),
    };
    Html(views::pages::logout::confirm(lang, &data.csrf, &carried).into_string()).into_response()
}
