//! Who is acting, read from the request before a handler runs: a handler
//! names what it needs in its signature (a signed-in panel, a recent login,
//! a JSON caller with a role, a form whose anti-CSRF field matched) and never
//! starts with a check it could forget.
//!
//! Pages, their scripts and their JSON twins refuse differently: a page
//! sends the browser to log in (coming back to where it was) or to
//! re-authenticate; a page's script gets `{"error"}` to show; a JSON call
//! answers a problem (RFC 9457). Neither of the last two gets a redirect.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::csrf::{self, CsrfField, CsrfForm};
use super::error::AppError;
use super::extract::{CurrentSession, FormInput, JsonInput, WithSession};
use super::locale::current_lang;
use super::panel::{Need, Panel};
use super::panel_json::check_csrf;
use super::problem::{Problem, ProblemType};
use crate::state::AppState;
use app::i18n::{Lang, t};
use views::routes;

/// Where a browser sent to log in comes back to: the page it asked for; for a
/// form it posted, the page the form belongs to ([`CsrfForm::PAGE`]).
fn page_asked(parts: &Parts) -> String {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        parts
            .uri
            .path_and_query()
            .map_or_else(|| routes::ACCOUNT.to_owned(), |p| p.as_str().to_owned())
    } else {
        routes::ACCOUNT.to_owned()
    }
}

async fn panel_back_to(parts: &mut Parts, state: &AppState, back: &str) -> Result<Panel, Response> {
    let session = CurrentSession::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    match Panel::load(state, session, back).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(detour)) => Err(detour),
        Err(e) => Err(e.into_response()),
    }
}

impl FromRequestParts<AppState> for Panel {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let back = page_asked(parts);
        panel_back_to(parts, state, &back).await
    }
}

/// A panel whose login is recent enough for a change of security or recovery
/// data: a password within the configured window, and a second factor as
/// well when the person has two-factor ([`app::authz::is_recent`]).
pub struct Recent(pub Panel);

impl Deref for Recent {
    type Target = Panel;

    fn deref(&self) -> &Panel {
        &self.0
    }
}

async fn recent_back_to(
    parts: &mut Parts,
    state: &AppState,
    back: &str,
) -> Result<Recent, Response> {
    let p = panel_back_to(parts, state, back).await?;
    match app::authz::is_recent(state, &p.data, &p.identity()).await {
        Ok(true) => Ok(Recent(p)),
        Ok(false) => Err(to_reauth(back)),
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

/// The re-authentication page, coming back to `back`.
pub fn to_reauth(back: &str) -> Response {
    Redirect::to(&routes::then(routes::REAUTH, back)).into_response()
}

impl FromRequestParts<AppState> for Recent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let back = page_asked(parts);
        recent_back_to(parts, state, &back).await
    }
}

/// A panel and a form posted from it whose anti-CSRF field matched the
/// session's token.
pub struct PanelForm<T> {
    /// Who is acting.
    pub panel: Panel,
    /// What they sent.
    pub form: T,
}

/// A recently authenticated panel and a form posted from it whose anti-CSRF
/// field matched the session's token.
pub struct RecentForm<T> {
    /// Who is acting, recently authenticated.
    pub panel: Recent,
    /// What they sent.
    pub form: T,
}

/// Reads the form, then checks its token against the session's.
async fn verified_form<T: CsrfForm>(
    body: Request,
    state: &AppState,
    p: &Panel,
) -> Result<T, Response> {
    let FormInput(form) = FormInput::<T>::from_request(body, state)
        .await
        .map_err(IntoResponse::into_response)?;
    csrf::matches(&p.data.csrf, form.csrf()).map_err(IntoResponse::into_response)?;
    Ok(form)
}

impl<T: CsrfForm> FromRequest<AppState> for PanelForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let panel = panel_back_to(&mut parts, state, T::PAGE).await?;
        let form = verified_form(Request::from_parts(parts, body), state, &panel).await?;
        Ok(Self { panel, form })
    }
}

impl<T: CsrfForm> FromRequest<AppState> for RecentForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let panel = recent_back_to(&mut parts, state, T::PAGE).await?;
        let form = verified_form(Request::from_parts(parts, body), state, &panel).await?;
        Ok(Self { panel, form })
    }
}

/// What a page's script is told when its call was not done: `{"error"}`
/// with a message to show, never a redirect it could not follow.
pub fn script_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Who a page's script acts for, found from the session and the headers of
/// its call once the anti-CSRF token its body repeated matched; or the
/// answer the script shows instead ([`script_error`]).
pub trait ScriptCaller: Sized {
    /// Who is calling, given the call's session and headers and the `token`
    /// its body repeated.
    fn find(
        state: &AppState,
        session: CurrentSession,
        headers: &HeaderMap,
        token: &str,
    ) -> impl Future<Output = Result<Self, Response>> + Send;
}

/// The JSON body a page's script sent and who it acts for (`W`). The body is
/// read first, and refused like an unreadable form.
pub struct Script<W, T> {
    /// Who is calling.
    pub who: W,
    /// What the script sent.
    pub body: T,
}

impl<W, T> FromRequest<AppState> for Script<W, T>
where
    W: ScriptCaller,
    T: CsrfField + DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let sent = WithSession::<JsonInput<T>>::from_request(req, state).await;
        let WithSession {
            session,
            headers,
            body: JsonInput(body),
        } = sent.map_err(IntoResponse::into_response)?;
        let who = W::find(state, session, &headers, body.csrf()).await?;
        Ok(Self { who, body })
    }
}

/// The security page's script: a session gone answers 401 and a login not
/// recent enough 403, so that the script tells the person what to do.
impl ScriptCaller for Recent {
    async fn find(
        state: &AppState,
        session: CurrentSession,
        _: &HeaderMap,
        token: &str,
    ) -> Result<Self, Response> {
        let loaded = Panel::load(state, session, routes::SECURITY).await;
        let Ok(panel) = loaded.map_err(IntoResponse::into_response)? else {
            let msg = t(current_lang(), "page.error.log_in_again");
            return Err(script_error(StatusCode::UNAUTHORIZED, msg));
        };
        csrf::matches(&panel.data.csrf, token).map_err(IntoResponse::into_response)?;
        let recent = app::authz::is_recent(state, &panel.data, &panel.identity()).await;
        if !recent.map_err(|e| AppError::from(e).into_response())? {
            let msg = t(panel.lang, "page.security.reauth_first");
            return Err(script_error(StatusCode::FORBIDDEN, msg));
        }
        Ok(Self(panel))
    }
}

/// What a JSON call needs: a role, and for a write the session's anti-CSRF
/// token in `X-CSRF-Token`.
pub trait Requirement: Send + Sync {
    /// The role check.
    const NEED: Need;
    /// Whether the call changes something (and must carry the token).
    const WRITE: bool;
}

macro_rules! requirement {
    ($(#[$doc:meta])* $name:ident, $need:expr, $write:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl Requirement for $name {
            const NEED: Need = $need;
            const WRITE: bool = $write;
        }
    };
}

requirement!(
    /// Reading the account's data.
    Read, Need::Read, false
);
requirement!(
    /// Changing the account's data.
    Write, Need::Write, true
);
requirement!(
    /// Managing local users and groups.
    Manage, Need::ManageUsers, true
);
requirement!(
    /// Reading one's own sessions, grants or log.
    OwnRead, Need::Own, false
);
requirement!(
    /// Ending one's own sessions or grants.
    OwnWrite, Need::Own, true
);
requirement!(
    /// Reading what only the holder may (their data export).
    HolderRead, Need::Holder, false
);
requirement!(
    /// What only the holder may do (erasing the account).
    HolderWrite, Need::Holder, true
);

/// The signed-in panel of a JSON call that meets `R`.
pub struct ApiPanel<R>(pub Panel, PhantomData<R>);

impl<R> Deref for ApiPanel<R> {
    type Target = Panel;

    fn deref(&self) -> &Panel {
        &self.0
    }
}

fn problem(status: StatusCode, kind: ProblemType, message: &str) -> Response {
    Problem::new(status, kind, message).into_response()
}

/// Why the caller of a JSON API was refused, before any wording: each API
/// says it in its own words ([`ApiPanel`], the users API's caller).
pub enum Refused {
    /// No live session, or one that must first take a detour.
    Unauthenticated,
    /// The role does not allow the call; the refusal's message key.
    Forbidden(Lang, &'static str),
    /// A write without the session's token; the refusal's message key.
    CsrfMismatch(Lang, &'static str),
    /// The session store or the database failed.
    Failed(AppError),
}

/// The signed-in panel of a JSON call that meets `R`: the session, then the
/// role, then for a write the `X-CSRF-Token` header, in that order.
pub async fn json_caller<R: Requirement>(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Panel, Refused> {
    let session = CurrentSession::from_request_parts(parts, state)
        .await
        .map_err(Refused::Failed)?;
    // The page to come back to matters only to a redirect, which a JSON
    // call never gets.
    let p = match Panel::load(state, session, routes::ACCOUNT).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(Refused::Unauthenticated),
        Err(e) => return Err(Refused::Failed(e)),
    };
    if let Err(AppError::Forbidden(m)) = p.require(R::NEED) {
        return Err(Refused::Forbidden(p.lang, m));
    }
    if R::WRITE
        && let Err(AppError::Forbidden(m)) = check_csrf(&p, &parts.headers)
    {
        return Err(Refused::CsrfMismatch(p.lang, m));
    }
    Ok(p)
}

impl<R: Requirement> FromRequestParts<AppState> for ApiPanel<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (status, kind, message) = match json_caller::<R>(parts, state).await {
            Ok(p) => return Ok(Self(p, PhantomData)),
            Err(Refused::Failed(e)) => return Err(e.into_response()),
            Err(Refused::Unauthenticated) => (
                StatusCode::UNAUTHORIZED,
                ProblemType::Unauthenticated,
                t(current_lang(), "page.error.log_in_again"),
            ),
            Err(Refused::Forbidden(lang, m)) => {
                (StatusCode::FORBIDDEN, ProblemType::Forbidden, t(lang, m))
            }
            Err(Refused::CsrfMismatch(lang, m)) => {
                (StatusCode::FORBIDDEN, ProblemType::CsrfMismatch, t(lang, m))
            }
        };
        Err(problem(status, kind, message))
    }
}
