//! Extractors: who is calling, from where, and what they sent. The
//! language of the request is [`super::locale`]'s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::cookies;
use super::error::AppError;
use crate::state::AppState;
use app::authz::SignedIn;
use app::session::SessionData;

/// The live session of the request, if its cookie names one and it still
/// counts ([`app::authz::signed_in`]: account active, local user active
/// and not signed out since). Every handler reads the session through here,
/// so a session ended elsewhere is no session on any path.
pub struct CurrentSession(pub Option<(String, SessionData)>, Option<SignedIn>);

impl CurrentSession {
    /// The session's id and data with the person it signs in, as the
    /// extractor just read them: a caller needs no second read of the
    /// account or the local user.
    pub fn signed_in(self) -> Option<(String, SessionData, SignedIn)> {
        let (id, data) = self.0?;
        Some((id, data, self.1?))
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let name = cookies::session_name(&state.config);
        let Some(id) = cookies::read(&parts.headers, name) else {
            return Ok(Self(None, None));
        };
        let now = state.clock.now_secs();
        let Some(data) = state.sessions.load(id, now).await? else {
            return Ok(Self(None, None));
        };
        let Some(who) = app::authz::signed_in(state, &data).await? else {
            state.sessions.destroy(id).await?;
            return Ok(Self(None, None));
        };
        Ok(Self(Some((id.to_owned(), data)), Some(who)))
    }
}

/// A form as a page reads it. One it cannot read (a missing field, a wrong
/// type, the wrong content type) is refused with the status axum chose and
/// one message in the customer's words ([`AppError::unreadable`]), the same
/// on every page. A handler that checks something else first takes
/// `Result<FormInput<T>, AppError>` and refuses when its turn comes.
pub struct FormInput<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormInput<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let Form(form) = Form::<T>::from_request(req, state)
            .await
            .map_err(|r| AppError::unreadable(r.status()))?;
        Ok(Self(form))
    }
}

/// A JSON body as a page's script or JSON twin reads it, refused like an
/// unreadable [`FormInput`].
pub struct JsonInput<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonInput<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let Json(body) = Json::<T>::from_request(req, state)
            .await
            .map_err(|r| AppError::unreadable(r.status()))?;
        Ok(Self(body))
    }
}

/// The session of a request, its headers, and then its body `B`: the order
/// in which the pages of a pending login or a panel's script have always
/// read them (a store outage answers before an unreadable body, and that
/// before anything about the session).
pub struct WithSession<B> {
    /// The live session, if any.
    pub session: CurrentSession,
    /// The request's headers (a pending login's cookie is among them).
    pub headers: HeaderMap,
    /// What was sent.
    pub body: B,
}

impl<B> FromRequest<AppState> for WithSession<B>
where
    B: FromRequest<AppState, Rejection = AppError>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let session = CurrentSession::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let body = B::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self {
            session,
            headers,
            body,
        })
    }
}

/// The client's IP address: the peer's, or, when the peer is a trusted proxy, the
/// last address in `X-Forwarded-For` that is not itself a trusted proxy. Headers
/// from anyone else are ignored, so clients cannot choose their own IP.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = &state.config.login.trusted_proxies;
        if !trusted.iter().any(|n| n.contains(&peer)) {
            return Ok(Self(peer));
        }
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted.iter().any(|n| n.contains(ip)))
            .copied()
            .unwrap_or(peer);
        Ok(Self(client))
    }
}

/// The browser's `User-Agent`, shortened.
pub struct UserAgent(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ua = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Ok(Self(ua))
    }
}

/// Where a request comes from, as the security log records it: the client's
/// IP (see [`ClientIp`]) and its browser.
impl FromRequestParts<AppState> for app::seclog::Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let Ok(UserAgent(ua)) = UserAgent::from_request_parts(parts, state).await;
        Ok(Self::new(ip, &ua))
    }
}
