//! What a client may learn of, or do to, a token it holds: introspection
//! (RFC 7662) and revocation (RFC 7009). The endpoints authenticate the
//! client; these decide what it is told and what changes.

use std::time::Duration;

use oauth::clients::Client;
use serde_json::Value;

use crate::error::AppError;
use crate::services::App;

/// The claims of `token` when it is an access token of ours, signed and in
/// its time window (revocation is checked by the callers that need it).
async fn verified(
    app: &App,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, oauth::OAuthError> {
    app.oauth
        .verified
        .verify(&app.oauth.keys, &app.oauth.issuer, token, now)
        .await
}

/// What introspection may tell a client about a token.
#[derive(Debug, PartialEq)]
pub enum Introspection {
    /// Unknown, expired, revoked, or not the caller's business: the answer is
    /// the same, so that it tells nothing.
    Inactive,
    /// A live access token: its verified claims.
    Access(Value),
    /// A live refresh token of the calling client.
    Refresh {
        /// Its scopes.
        scopes: Vec<String>,
        /// The client it was issued to (the caller).
        client_id: String,
        /// The `sub` of the person it acts for.
        sub: Option<String>,
        /// When it stops being usable (idle or absolute, whichever is first).
        exp: i64,
        /// When it was issued.
        iat: i64,
    },
}

/// What `client` may learn about `token`. A client learns about an access
/// token issued to it or naming it as audience (any token, when the operator
/// allowed it to introspect others), and about its own refresh tokens; an
/// access token whose subject or grant was cut off since is inactive.
pub async fn introspect(
    app: &App,
    client: &Client,
    token: &str,
) -> Result<Introspection, AppError> {
    let now = app.clock.now();
    let Ok(claims) = verified(app, token, now).await else {
        let Some(rt) = oauth::refresh::find_live(app.accounts.db(), token, now).await? else {
            return Ok(Introspection::Inactive);
        };
        if rt.client_id != client.client_id {
            return Ok(Introspection::Inactive);
        }
        let user_id = (rt.user_id != 0).then_some(rt.user_id);
        return Ok(Introspection::Refresh {
            scopes: serde_json::from_str(&rt.scopes).unwrap_or_default(),
            sub: crate::authz::subject_of(app, rt.account_id, user_id).await,
            exp: rt.idle_expires_at.min(rt.expires_at).timestamp(),
            iat: rt.created_at.timestamp(),
            client_id: rt.client_id,
        });
    };
    if !client.introspects_others && !concerns(&claims, &client.client_id) {
        return Ok(Introspection::Inactive);
    }
    if !crate::authz::access_token_counts(app, &claims).await? {
        return Ok(Introspection::Inactive);
    }
    Ok(Introspection::Access(claims))
}

/// Whether a token was issued to `client_id` or names it as an audience.
fn concerns(claims: &Value, client_id: &str) -> bool {
    if claims["client_id"].as_str() == Some(client_id) {
        return true;
    }
    match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(all) => all.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

/// Revokes `token` for `client`: an access token of its own until it would
/// have expired, or a refresh token's whole family. Unknown, expired or
/// malformed tokens are no error (RFC 7009: nothing is left to revoke); a
/// token of another client is `OAuth(UnauthorizedClient)`.
pub async fn revoke(app: &App, client: &Client, token: &str) -> Result<(), AppError> {
    let now = app.clock.now();
    let Ok(claims) = verified(app, token, now).await else {
        let found =
            oauth::refresh::revoke_by_token(app.accounts.db(), &client.client_id, token, now)
                .await?;
        return match found {
            Some(false) => Err(oauth::OAuthError::UnauthorizedClient.into()),
            _ => Ok(()),
        };
    };
    if claims["client_id"] != client.client_id.as_str() {
        return Err(oauth::OAuthError::UnauthorizedClient.into());
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    // Remembered until the token would have expired anyway (plus the
    // verification leeway), then forgotten.
    let ttl = Duration::from_secs((exp - now.timestamp()).max(0) as u64 + 120);
    let jti = claims["jti"].as_str().unwrap_or_default();
    crate::revocation::revoke_jti(&*app.store, jti, ttl).await?;
    tracing::info!(client_id = %client.client_id, "access token revoked");
    Ok(())
}

/// What the userinfo endpoint may answer for a bearer token.
#[derive(Debug)]
pub enum UserInfo {
    /// Not a live access token of ours (expired, revoked, an ID token, or its
    /// subject gone, disabled or erased).
    InvalidToken,
    /// A live token without the `openid` scope.
    InsufficientScope,
    /// The subject's claims, limited to the token's scopes.
    Claims(oauth::id_token::Person),
}

/// The claims an access token lets its bearer read about its subject.
pub async fn userinfo(app: &App, token: &str) -> Result<UserInfo, AppError> {
    let now = app.clock.now();
    let Ok(claims) = verified(app, token, now).await else {
        return Ok(UserInfo::InvalidToken);
    };
    if !crate::authz::access_token_counts(app, &claims).await? {
        return Ok(UserInfo::InvalidToken);
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Ok(UserInfo::InsufficientScope);
    }
    let subject = claims["sub"].as_str().unwrap_or_default();
    Ok(match person_by_subject(app, subject).await? {
        Some(person) => UserInfo::Claims(person.limited_to(&scopes)),
        None => UserInfo::InvalidToken,
    })
}

/// The active holder or local user an access token's `sub` names.
async fn person_by_subject(
    app: &App,
    subject: &str,
) -> Result<Option<oauth::id_token::Person>, AppError> {
    use accounts::{AccountStatus, UserStatus};
    if let Some(a) = app.accounts.find_by_subject(subject).await? {
        return Ok((a.status == AccountStatus::Active).then(|| crate::grants::person_of(&a)));
    }
    let Some((a, u)) = app.accounts.find_user_by_subject(subject).await? else {
        return Ok(None);
    };
    if a.status != AccountStatus::Active || u.status != UserStatus::Active {
        return Ok(None);
    }
    let role = app.accounts.user_role(&u).await?;
    Ok(Some(crate::grants::person_of_user(&a, &u, role)))
}
