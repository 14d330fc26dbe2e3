//! Relying parties registered by operators: validation, storage, secrets.

pub mod entity;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;
use crate::keys::SigningAlg;

/// Grant types a client may be given.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];
/// Client authentication methods at the token endpoint.
pub const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];
/// Most redirect URIs one client may register.
const MAX_URIS: usize = 20;
/// Longest URI accepted.
const MAX_URI_LEN: usize = 2048;
/// The longest access-token lifetime a client may have: revocations of
/// self-contained tokens are kept this long.
pub const MAX_ACCESS_TOKEN_TTL_SECS: i32 = 24 * 3600;

/// A client as stored.
pub type Client = entity::Model;

/// What an operator asks for when registering or updating a client. Every field
/// is checked by [`ClientSpec::validate`]; invalid specs change nothing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Display name.
    pub name: String,
    /// `confidential` or `public`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Token endpoint authentication; defaults by kind.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout endpoint.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Grant types.
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    /// Scopes the client may ask for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Skip consent.
    #[serde(default)]
    pub first_party: bool,
    /// Require a second factor.
    #[serde(default)]
    pub requires_2fa: bool,
    /// May introspect tokens issued to other clients (a resource server).
    #[serde(default)]
    pub introspects_others: bool,
    /// Access token lifetime, seconds.
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: i32,
    /// Refresh token absolute lifetime, seconds.
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_secs: i32,
    /// Refresh token idle lifetime, seconds.
    #[serde(default = "default_refresh_idle")]
    pub refresh_idle_ttl_secs: i32,
    /// ID token signing algorithm.
    #[serde(default = "default_alg")]
    pub id_token_alg: String,
    /// JWKS (JSON) for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<String>,
}

fn default_kind() -> String {
    "confidential".into()
}
fn default_grants() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}
fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"]
        .map(String::from)
        .to_vec()
}
/// Five minutes: a relying party that checks access tokens locally, without
/// introspection, goes on trusting one until it expires, so a cut-off
/// (password change, disabled account) reaches it within this time.
fn default_access_ttl() -> i32 {
    300
}
fn default_refresh_ttl() -> i32 {
    30 * 24 * 3600
}
fn default_refresh_idle() -> i32 {
    7 * 24 * 3600
}
fn default_alg() -> String {
    "RS256".into()
}

impl ClientSpec {
    /// A spec with every default and the given name.
    pub fn named(name: &str) -> Self {
        serde_json::from_value(serde_json::json!({ "name": name })).expect("defaults deserialize")
    }

    /// Checks every field; lists every problem as `(field, message)`.
    pub fn validate(&self) -> Result<(), OAuthError> {
        let mut errs: Vec<(&'static str, String)> = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            errs.push((
                "name",
                "must be 1 to 200 characters without control characters".into(),
            ));
        }
        if !matches!(self.kind.as_str(), "confidential" | "public") {
            errs.push(("kind", "must be \"confidential\" or \"public\"".into()));
        }
        let method = self.auth_method();
        if !AUTH_METHODS.contains(&method) {
            errs.push((
                "auth_method",
                format!("must be one of {}", AUTH_METHODS.join(", ")),
            ));
        } else if (self.kind == "public") != (method == "none") {
            errs.push((
                "auth_method",
                "public clients use \"none\"; confidential clients must authenticate".into(),
            ));
        }
        if method == "private_key_jwt"
            && self.jwks.as_deref().is_none_or(|j| {
                serde_json::from_str::<serde_json::Value>(j)
                    .map(|v| !v["keys"].is_array())
                    .unwrap_or(true)
            })
        {
            errs.push((
                "jwks",
                "private_key_jwt needs a JWKS document with a \"keys\" array".into(),
            ));
        }
        for g in &self.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                errs.push((
                    "grant_types",
                    format!("{g:?} is not supported; use {}", GRANT_TYPES.join(", ")),
                ));
            }
        }
        if self.grant_types.is_empty() {
            errs.push(("grant_types", "at least one grant type".into()));
        }
        if self.kind == "public" && self.grant_types.iter().any(|g| g == "client_credentials") {
            errs.push((
                "grant_types",
                "a public client cannot use client_credentials".into(),
            ));
        }
        let needs_redirect = self.grant_types.iter().any(|g| g == "authorization_code");
        if needs_redirect && self.redirect_uris.is_empty() {
            errs.push((
                "redirect_uris",
                "authorization_code needs at least one redirect URI".into(),
            ));
        }
        for (field, list) in [
            ("redirect_uris", &self.redirect_uris),
            ("post_logout_redirect_uris", &self.post_logout_redirect_uris),
        ] {
            if list.len() > MAX_URIS {
                errs.push((field, format!("at most {MAX_URIS}")));
            }
            for u in list {
                if let Err(e) = check_redirect_uri(u) {
                    errs.push((field, format!("{u:?}: {e}")));
                }
            }
        }
        if let Some(u) = &self.backchannel_logout_uri
            && let Err(e) = check_redirect_uri(u)
        {
            errs.push(("backchannel_logout_uri", format!("{u:?}: {e}")));
        }
        for s in &self.scopes {
            let ok = !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
            if !ok {
                errs.push(("scopes", format!("{s:?} is not a valid scope name")));
            }
        }
        for (field, v, max) in [
            (
                "access_token_ttl_secs",
                self.access_token_ttl_secs,
                MAX_ACCESS_TOKEN_TTL_SECS,
            ),
            (
                "refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
                365 * 24 * 3600,
            ),
            (
                "refresh_idle_ttl_secs",
                self.refresh_idle_ttl_secs,
                365 * 24 * 3600,
            ),
        ] {
            if !(60..=max).contains(&v) {
                errs.push((field, format!("must be between 60 and {max}")));
            }
        }
        if self.refresh_idle_ttl_secs > self.refresh_token_ttl_secs {
            errs.push((
                "refresh_idle_ttl_secs",
                "must not exceed refresh_token_ttl_secs".into(),
            ));
        }
        if SigningAlg::parse(&self.id_token_alg).is_none() {
            errs.push(("id_token_alg", "must be RS256, ES256 or EdDSA".into()));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(OAuthError::InvalidClientSpec(errs))
        }
    }

    fn auth_method(&self) -> &str {
        match (&self.auth_method, self.kind.as_str()) {
            (Some(m), _) => m,
            (None, "public") => "none",
            (None, _) => "client_secret_basic",
        }
    }
}

/// Checks one redirect-style URI: absolute, no fragment, no user info; `https`,
/// or `http` only on a loopback host (RFC 8252), or a private-use scheme with a
/// dot (`com.example.app:/cb`) for native apps.
pub fn check_redirect_uri(u: &str) -> Result<(), &'static str> {
    if u.len() > MAX_URI_LEN {
        return Err("too long");
    }
    if u.contains('*') {
        return Err("wildcards are not allowed");
    }
    let parsed = url::Url::parse(u).map_err(|_| "not an absolute URI")?;
    if parsed.fragment().is_some() || u.contains('#') {
        return Err("must not have a fragment");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry user information");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err("http is allowed only for loopback addresses"),
        },
        s if s.contains('.') => Ok(()),
        _ => Err("must be https, loopback http, or a private-use scheme like com.example.app"),
    }
}

/// Whether a URI equals one registered for a client: exact string match, except
/// that the port of a loopback `http` URI may vary (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    let Ok(p) = url::Url::parse(presented) else {
        return false;
    };
    if p.scheme() != "http" || !matches!(p.host_str(), Some("127.0.0.1" | "[::1]")) {
        return false;
    }
    registered.iter().any(|r| {
        url::Url::parse(r).is_ok_and(|mut r| {
            r.scheme() == "http"
                && r.host_str() == p.host_str()
                && r.set_port(p.port()).is_ok()
                && r.as_str() == presented
        })
    })
}

/// A new random client secret: 256 bits, base64url. Shown once.
fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn new_client_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with the stored digest in constant time.
pub fn secret_matches(client: &Client, presented: &str) -> bool {
    match &client.secret_hash {
        Some(h) => bool::from(digest(presented).as_bytes().ct_eq(h.as_bytes())),
        None => false,
    }
}

/// A list column as a vector.
pub fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A new client and, for secret-based methods, its secret (shown once, stored
/// only as a digest).
pub async fn create(
    db: &impl ConnectionTrait,
    spec: &ClientSpec,
    now: DateTime<Utc>,
) -> Result<(Client, Option<String>), OAuthError> {
    spec.validate()?;
    let method = spec.auth_method().to_owned();
    let secret = method.starts_with("client_secret").then(new_secret);
    let row = entity::ActiveModel {
        client_id: Set(new_client_id()),
        name: Set(spec.name.trim().to_owned()),
        kind: Set(spec.kind.clone()),
        auth_method: Set(method),
        secret_hash: Set(secret.as_deref().map(digest)),
        redirect_uris: Set(to_json(&spec.redirect_uris)),
        post_logout_redirect_uris: Set(to_json(&spec.post_logout_redirect_uris)),
        backchannel_logout_uri: Set(spec.backchannel_logout_uri.clone()),
        grant_types: Set(to_json(&spec.grant_types)),
        scopes: Set(to_json(&spec.scopes)),
        first_party: Set(spec.first_party),
        requires_2fa: Set(spec.requires_2fa),
        introspects_others: Set(spec.introspects_others),
        access_token_ttl_secs: Set(spec.access_token_ttl_secs),
        refresh_token_ttl_secs: Set(spec.refresh_token_ttl_secs),
        refresh_idle_ttl_secs: Set(spec.refresh_idle_ttl_secs),
        id_token_alg: Set(spec.id_token_alg.clone()),
        jwks: Set(spec.jwks.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let client = row.insert(db).await?;
    Ok((client, secret))
}

/// Finds a client by its public identifier.
pub async fn find(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<Client>, OAuthError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

/// Every client, oldest first.
pub async fn list_all(db: &impl ConnectionTrait) -> Result<Vec<Client>, OAuthError> {
    Ok(entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?)
}

/// The spec a stored client was made from, for updates.
pub fn spec_of(c: &Client) -> ClientSpec {
    ClientSpec {
        name: c.name.clone(),
        kind: c.kind.clone(),
        auth_method: Some(c.auth_method.clone()),
        redirect_uris: list(&c.redirect_uris),
        post_logout_redirect_uris: list(&c.post_logout_redirect_uris),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        grant_types: list(&c.grant_types),
        scopes: list(&c.scopes),
        first_party: c.first_party,
        requires_2fa: c.requires_2fa,
        introspects_others: c.introspects_others,
        access_token_ttl_secs: c.access_token_ttl_secs,
        refresh_token_ttl_secs: c.refresh_token_ttl_secs,
        refresh_idle_ttl_secs: c.refresh_idle_ttl_secs,
        id_token_alg: c.id_token_alg.clone(),
        jwks: c.jwks.clone(),
    }
}

/// Replaces a client's settings. The kind and authentication method cannot
/// change (that would orphan or invent a secret): delete and recreate instead.
pub async fn update(
    db: &impl ConnectionTrait,
    client_id: &str,
    spec: &ClientSpec,
    now: DateTime<Utc>,
) -> Result<Client, OAuthError> {
    spec.validate()?;
    let c = find(db, client_id)
        .await?
        .ok_or(OAuthError::ClientNotFound)?;
    if spec.kind != c.kind || spec.auth_method() != c.auth_method {
        return Err(OAuthError::InvalidClientSpec(vec![(
            "kind",
            "the kind and authentication method of a client cannot change".into(),
        )]));
    }
    let mut row: entity::ActiveModel = c.into();
    row.name = Set(spec.name.trim().to_owned());
    row.redirect_uris = Set(to_json(&spec.redirect_uris));
    row.post_logout_redirect_uris = Set(to_json(&spec.post_logout_redirect_uris));
    row.backchannel_logout_uri = Set(spec.backchannel_logout_uri.clone());
    row.grant_types = Set(to_json(&spec.grant_types));
    row.scopes = Set(to_json(&spec.scopes));
    row.first_party = Set(spec.first_party);
    row.requires_2fa = Set(spec.requires_2fa);
    row.introspects_others = Set(spec.introspects_others);
    row.access_token_ttl_secs = Set(spec.access_token_ttl_secs);
    row.refresh_token_ttl_secs = Set(spec.refresh_token_ttl_secs);
    row.refresh_idle_ttl_secs = Set(spec.refresh_idle_ttl_secs);
    row.id_token_alg = Set(spec.id_token_alg.clone());
    row.jwks = Set(spec.jwks.clone());
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes a client.
pub async fn delete(db: &impl ConnectionTrait, client_id: &str) -> Result<(), OAuthError> {
    let res = entity::Entity::delete_many()
        .filter(entity::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(OAuthError::ClientNotFound);
    }
    Ok(())
}

/// Replaces a client's secret; the old one stops working at once.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let c = find(db, client_id)
        .await?
        .ok_or(OAuthError::ClientNotFound)?;
    if !c.auth_method.starts_with("client_secret") {
        return Err(OAuthError::InvalidClientSpec(vec![(
            "auth_method",
            "this client does not authenticate with a secret".into(),
        )]));
    }
    let secret = new_secret();
    let mut row: entity::ActiveModel = c.into();
    row.secret_hash = Set(Some(digest(&secret)));
    row.updated_at = Set(now);
    row.update(db).await?;
    Ok(secret)
}

/// How long a client read from the database is trusted before it is read again.
/// Bounded staleness is the price of not querying the database on every token
/// request: a deleted client or a rotated secret takes effect within this time
/// on every replica.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

type CacheMap = std::collections::HashMap<String, (std::sync::Arc<Client>, std::time::Instant)>;

/// A short-lived, process-local cache of clients by `client_id`.
#[derive(Clone, Default)]
pub struct ClientCache {
    inner: std::sync::Arc<std::sync::RwLock<CacheMap>>,
}

impl ClientCache {
    /// The client as last read, however old, without asking the database:
    /// only for telling a client's registered redirect URI that the server
    /// cannot serve it now (the database is down), never for granting.
    pub fn remembered(&self, client_id: &str) -> Option<std::sync::Arc<Client>> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .map(|(c, _)| c.clone())
    }

    /// The client, from the cache when fresh, else from the database. Unknown
    /// ids are not cached, so a client created a moment ago is found at once.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        client_id: &str,
    ) -> Result<Option<std::sync::Arc<Client>>, OAuthError> {
        {
            let map = self
                .inner
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((c, at)) = map.get(client_id)
                && at.elapsed() < CACHE_TTL
            {
                return Ok(Some(c.clone()));
            }
        }
        let found = find(db, client_id).await?.map(std::sync::Arc::new);
        let mut map = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &found {
            Some(c) => {
                map.insert(client_id.to_owned(), (c.clone(), std::time::Instant::now()));
            }
            None => {
                map.remove(client_id);
            }
        }
        Ok(found)
    }

    /// Forgets a client at once in this process (after an update here).
    pub fn forget(&self, client_id: &str) {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client_id);
    }
}

#[cfg(test)]
mod tests;
