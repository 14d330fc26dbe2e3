//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oauth::clients::{self, Client};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::OAuthHttpError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use app::session::throttle::retry_after_secs;

/// What the request presented.
pub struct Presented {
    client_id: String,
    secret: Option<String>,
    assertion: Option<String>,
}

/// The request's `Authorization` header, the only one client authentication
/// reads: extracting it alone spares copying every header of every token,
/// introspection and revocation request.
pub struct AuthorizationHeader(pub Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for AuthorizationHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(AUTHORIZATION).cloned()))
    }
}

/// The client credentials a form may carry (`client_secret_post` and
/// `private_key_jwt`); `Authorization: Basic` is read from the header.
#[derive(Deserialize, Default)]
#[serde(default)]
struct FormCredentials {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

#[derive(Deserialize)]
struct WithCredentials<T> {
    #[serde(flatten)]
    credentials: FormCredentials,
    #[serde(flatten)]
    params: T,
}

/// A form posted to the token, introspection or revocation endpoint by a
/// client that proved who it is (by any method it is registered for), and
/// the endpoint's own parameters `T`. Failures answer `invalid_client`
/// (throttled per IP) or `invalid_request` for an unreadable form, as each
/// endpoint must.
pub struct Authenticated<T> {
    /// The client, as registered now.
    pub client: Arc<Client>,
    /// The endpoint's parameters.
    pub params: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Authenticated<T> {
    type Rejection = OAuthHttpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, OAuthHttpError> {
        let (mut parts, body) = req.into_parts();
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(&mut parts, state).await;
        let Ok(AuthorizationHeader(authorization)) =
            AuthorizationHeader::from_request_parts(&mut parts, state).await;
        let endpoint = parts.uri.path().to_owned();
        let form: Result<Form<WithCredentials<T>>, FormRejection> =
            Form::from_request(Request::from_parts(parts, body), state).await;
        let Form(f) = form.map_err(|r| OAuthHttpError::invalid_request(r.body_text()))?;
        let c = &f.credentials;
        let presented = presented(
            &AuthorizationHeader(authorization),
            c.client_id.as_deref(),
            c.client_secret.as_deref(),
            AssertionParams {
                kind: c.client_assertion_type.as_deref(),
                assertion: c.client_assertion.as_deref(),
            },
        )?;
        let client = authenticate(state, presented, ip, &endpoint).await?;
        Ok(Self {
            client,
            params: f.params,
        })
    }
}

/// A `client_assertion` and its type, from the form.
pub struct AssertionParams<'a> {
    /// `client_assertion_type`.
    pub kind: Option<&'a str>,
    /// `client_assertion`.
    pub assertion: Option<&'a str>,
}

fn assertion_subject(jwt: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1)?).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    v["sub"].as_str().map(str::to_owned)
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Reads client credentials from `Authorization: Basic` or the form. Using both
/// at once is an `invalid_request` (RFC 6749 §2.3).
pub fn presented(
    authorization: &AuthorizationHeader,
    form_id: Option<&str>,
    form_secret: Option<&str>,
    assertion: AssertionParams<'_>,
) -> Result<Option<Presented>, OAuthHttpError> {
    if let Some(jwt) = assertion.assertion {
        if assertion.kind != Some(oauth::assertion::JWT_BEARER) {
            return Err(OAuthHttpError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        if form_secret.is_some() || authorization.0.is_some() {
            return Err(OAuthHttpError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        // The client is named by the assertion's `sub` (checked against `iss`
        // and the signature below); a `client_id` parameter must agree.
        let id = assertion_subject(jwt).ok_or_else(OAuthHttpError::invalid_client)?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthHttpError::invalid_client());
        }
        return Ok(Some(Presented {
            client_id: id,
            secret: None,
            assertion: Some(jwt.to_owned()),
        }));
    }
    let basic = authorization
        .0
        .as_ref()
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
            assertion: None,
        }));
    }
    Ok(form_id.map(|id| Presented {
        client_id: id.to_owned(),
        secret: form_secret.map(str::to_owned),
        assertion: None,
    }))
}

/// Authenticates the presented client. Unknown client, wrong secret, missing
/// secret for a confidential client, or a secret for a public one: all one
/// `invalid_client`. Failures are counted per client IP, never per client
/// id (a guesser elsewhere must not lock a real client out). Unlike a
/// password, a secret is compared in microseconds, so what must be limited is
/// the answers, not the comparisons: a wrong secret gets its answer only once
/// the IP's counter took it (one atomic step), so of parallel wrong guesses
/// from one address only as many as the IP's schedule allows are answered
/// `invalid_client`, the others 429, counted nothing; a right secret is
/// answered only while the address owes no wait. Right secrets are not
/// counted, so a busy client's parallel requests never hold each other up.
pub async fn authenticate(
    state: &AppState,
    presented: Option<Presented>,
    ip: IpAddr,
    endpoint: &str,
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
    let ok = match (&client, &p.secret, &p.assertion) {
        (Some(c), Some(s), None) if c.auth_method.starts_with("client_secret") => {
            clients::secret_matches(c, s)
        }
        (Some(c), None, Some(jwt)) => verify_assertion(state, c, jwt, endpoint).await?,
        (Some(c), None, None) => c.auth_method == "none",
        _ => false,
    };
    throttled(state, ip, client.filter(|_| ok)).await
}

/// The answer to an authentication, counted per IP: a right one is answered
/// only while the IP owes no wait (and is not counted, so a busy client's
/// parallel requests never hold each other up); a wrong one only once the
/// IP's counter took it.
async fn throttled(
    state: &AppState,
    ip: IpAddr,
    proven: Option<Arc<Client>>,
) -> Result<Arc<Client>, OAuthHttpError> {
    let now_ms = state.clock.now_ms();
    match proven {
        Some(c) => {
            let wait = state.throttle.ip_wait(ip, now_ms).await?;
            if !wait.is_zero() {
                tracing::info!(%ip, "client authentication refused: throttled");
                return Err(OAuthHttpError::too_many_attempts(retry_after_secs(wait)));
            }
            Ok(c)
        }
        None => match state.throttle.reserve_ip(ip, now_ms).await? {
            Ok(failure) => {
                failure.failed();
                tracing::info!(%ip, "client authentication failed");
                Err(OAuthHttpError::throttled(1))
            }
            Err(wait) => {
                tracing::info!(%ip, "client authentication refused: throttled");
                Err(OAuthHttpError::too_many_attempts(retry_after_secs(wait)))
            }
        },
    }
}

/// Checks a `private_key_jwt` assertion, and that its `jti` was never seen: a
/// captured assertion cannot be replayed, even within its lifetime.
async fn verify_assertion(
    state: &AppState,
    client: &Client,
    jwt: &str,
    endpoint: &str,
) -> Result<bool, OAuthHttpError> {
    let now = state.clock.now_secs();
    let endpoint_url = format!("{}{endpoint}", state.oauth.issuer);
    let audiences = [state.oauth.issuer.as_str(), endpoint_url.as_str()];
    let Ok(v) = oauth::assertion::verify(client, jwt, &audiences, now) else {
        return Ok(false);
    };
    let ttl = std::time::Duration::from_secs((v.exp - now).max(0) as u64 + 120);
    let seen = state
        .store
        .incr(&format!("assertion:{}:{}", client.client_id, v.jti), ttl)
        .await?;
    Ok(seen == 1)
}
