//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oauth::clients::{self, Client};

use super::error::OAuthHttpError;
use crate::session::throttle::Subject;
use crate::state::AppState;

/// What the request presented.
pub struct Presented {
    client_id: String,
    secret: Option<String>,
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Reads client credentials from `Authorization: Basic` or the form. Using both
/// at once is an `invalid_request` (RFC 6749 §2.3).
pub fn presented(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Option<Presented>, OAuthHttpError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(b64) = basic {
        if form_secret.is_some() {
            return Err(OAuthHttpError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        let decoded = STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(OAuthHttpError::invalid_client)?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(OAuthHttpError::invalid_client)?;
        let id = form_decode(id).ok_or_else(OAuthHttpError::invalid_client)?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthHttpError::invalid_request(
                "client_id differs from the Authorization header",
            ));
        }
        return Ok(Some(Presented {
            client_id: id,
            secret: Some(form_decode(secret).ok_or_else(OAuthHttpError::invalid_client)?),
        }));
    }
    Ok(form_id.map(|id| Presented {
        client_id: id.to_owned(),
        secret: form_secret.map(str::to_owned),
    }))
}

/// Authenticates the presented client. Unknown client, wrong secret, missing
/// secret for a confidential client, or a secret for a public one: all one
/// `invalid_client`. Each failure is counted per client id and client IP, and
/// answered with a growing `Retry-After`; a correct secret is never delayed, so
/// an attacker cannot lock a real client out.
pub async fn authenticate(
    state: &AppState,
    presented: Option<Presented>,
    ip: IpAddr,
) -> Result<Arc<Client>, OAuthHttpError> {
    let Some(p) = presented else {
        return Err(OAuthHttpError::invalid_client());
    };
    if p.client_id.is_empty() || p.client_id.len() > 128 {
        return Err(OAuthHttpError::invalid_client());
    }
    let client = state
        .oauth
        .clients
        .get(state.accounts.db(), &p.client_id)
        .await
        .map_err(OAuthHttpError::from)?;
    let ok = match (&client, &p.secret) {
        (Some(c), Some(s)) if c.auth_method.starts_with("client_secret") => {
            clients::secret_matches(c, s)
        }
        (Some(c), None) => c.auth_method == "none",
        _ => false,
    };
    match client {
        Some(c) if ok => Ok(c),
        _ => {
            let who = Subject::Unknown(format!("client:{}", p.client_id));
            let now_ms = chrono::Utc::now().timestamp_millis();
            state.throttle.failed(&who, ip, now_ms).await?;
            let wait = state.throttle.wait(&who, ip, now_ms).await?;
            tracing::info!(%ip, "client authentication failed");
            Err(OAuthHttpError::throttled(wait.as_secs()))
        }
    }
}
