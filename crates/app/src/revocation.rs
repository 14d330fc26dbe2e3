//! Access tokens are self-contained JWTs, so the only way to take one back
//! before it expires is to remember, in the short-lived store, what no longer
//! counts: one token by its `jti` (RFC 7009 revocation, code replay), or
//! every token of a subject, or of a subject at one client, issued up to a
//! moment (consent withdrawn, signed out everywhere, account erased, local
//! user disabled or deleted). Resource servers see it through introspection,
//! and userinfo refuses such tokens.

use serde_json::Value;

use crate::store::{StateStore, StoreError};

/// The longest an access token can live (a client's lifetime is capped at
/// this), plus the verification leeway: after that, a cut-off has nothing
/// left to stop and is forgotten.
pub fn kept_for() -> std::time::Duration {
    std::time::Duration::from_secs(oauth::clients::MAX_ACCESS_TOKEN_TTL_SECS as u64 + 120)
}

fn jti_key(jti: &str) -> String {
    format!("revoked:{jti}")
}

fn cut_key(sub: &str, client_id: Option<&str>) -> String {
    match client_id {
        Some(c) => format!("atcut:{sub}:{c}"),
        None => format!("atcut:{sub}"),
    }
}

/// Marks one access token revoked for `ttl` (until it would have expired).
pub async fn revoke_jti(
    store: &dyn StateStore,
    jti: &str,
    ttl: std::time::Duration,
) -> Result<(), StoreError> {
    store.set(&jti_key(jti), "1", ttl).await
}

/// Revokes every access token of `sub` issued until now: at one client, or
/// at all of them when `client_id` is `None`.
pub async fn cut_off(
    store: &dyn StateStore,
    sub: &str,
    client_id: Option<&str>,
) -> Result<(), StoreError> {
    let now = store.now_ms().div_euclid(1000);
    store
        .set(&cut_key(sub, client_id), &now.to_string(), kept_for())
        .await
}

/// Whether verified access-token claims name a token taken back: its own
/// revocation or a cut-off of its subject. One store round trip.
pub async fn is_revoked(store: &dyn StateStore, claims: &Value) -> Result<bool, StoreError> {
    let jti = claims["jti"].as_str().unwrap_or_default();
    let sub = claims["sub"].as_str().unwrap_or_default();
    let client = claims["client_id"].as_str().unwrap_or_default();
    let iat = claims["iat"].as_i64().unwrap_or(0);
    let keys = [jti_key(jti), cut_key(sub, None), cut_key(sub, Some(client))];
    let found = store.get_many(&[&keys[0], &keys[1], &keys[2]]).await?;
    if found[0].is_some() {
        return Ok(true);
    }
    // Issued in the second of the cut-off or before: iat has whole seconds,
    // so a token of that same second is taken back too, to be safe.
    Ok(found[1..]
        .iter()
        .flatten()
        .filter_map(|v| v.parse::<i64>().ok())
        .any(|cut| iat <= cut))
}

/// Every subject an account's tokens can carry: the holder's and each local
/// user's.
pub async fn subjects_of(
    accounts: &accounts::Accounts,
    account_id: i32,
) -> Result<Vec<String>, accounts::AccountError> {
    let users = accounts.list_users(account_id).await?;
    subjects_with(accounts, account_id, &users).await
}

/// [`subjects_of`] with the account's users already read.
pub async fn subjects_with(
    accounts: &accounts::Accounts,
    account_id: i32,
    users: &[accounts::LocalUser],
) -> Result<Vec<String>, accounts::AccountError> {
    let mut subs = Vec::with_capacity(users.len() + 1);
    if let Some(a) = accounts.find_by_id(account_id).await? {
        subs.push(a.subject);
    }
    subs.extend(users.iter().map(|u| u.subject.clone()));
    Ok(subs)
}
