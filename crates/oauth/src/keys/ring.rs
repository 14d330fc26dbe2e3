//! The key ring: the set of signing keys, their rotation, the published JWKS, and
//! the signing and checking of this server's JWTs.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{PrivateSigningKey, SigningError};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set,
};
use serde_json::Value;

use super::alg::SigningAlg;
use super::encryption::KeyEncryptor;
use super::jws;
use super::material::{PrivateKey, PublicKey, new_kid};
use super::signing_key;
use crate::error::OAuthError;

/// How long the cached key list is trusted before it is read again. Bounds the
/// delay before a rotation made by another process is seen; choose rotation
/// `publish_ahead` values well above it, so every process knows a key before it
/// activates.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The least time between two reloads caused by an unknown kid or a missing
/// signing key, so a stream of tokens with made-up kids cannot turn into a
/// stream of database queries.
const MISS_REFRESH_GAP: Duration = Duration::from_secs(1);

/// The identity provider's signing keys, over the `signing_keys` table.
///
/// Clones share one in-memory cache. Keys are read from the database at most
/// every refresh interval, and at once (at most once a second) when a kid or a
/// signing key is missing; private keys are decrypted once per process.
#[derive(Clone)]
pub struct KeyRing {
    db: DatabaseConnection,
    encryptor: KeyEncryptor,
    refresh_interval: Duration,
    /// Tells how old the cache is; tests move it past the refresh interval.
    clock: clock::Clock,
    cache: Arc<RwLock<Cache>>,
    /// Serializes reloads, so a slow old query never overwrites a newer result.
    reload_lock: Arc<tokio::sync::Mutex<()>>,
    /// The last JWKS document served, with the kids it lists: relying parties
    /// fetch it far more often than the published set changes.
    jwks_doc: Arc<RwLock<Option<JwksDoc>>>,
}

/// A served JWKS document and when it holds: built from the keys read at
/// `loaded_at`, right from `from` until `until` (when the first of its keys
/// stops being published). Its JSON is shared: a clone is a reference
/// count, not a copy of the RSA moduli.
struct JwksDoc {
    loaded_at: Option<Instant>,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    json: bytes::Bytes,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("refresh_interval", &self.refresh_interval)
            .finish_non_exhaustive()
    }
}

/// What the process knows of the table.
#[derive(Default)]
struct Cache {
    /// When the keys were last read; `None` before the first read. Also the
    /// version stamp of the served JWKS document: unique per read.
    loaded_at: Option<Instant>,
    /// The same moment on the ring's clock, in Unix milliseconds: what the
    /// cache's age is measured by.
    loaded_ms: i64,
    /// Every stored key, by kid.
    keys: HashMap<String, Arc<CachedKey>>,
}

/// One stored key, with its public half parsed and its private half decrypted on
/// first use.
struct CachedKey {
    id: i32,
    kid: String,
    alg: SigningAlg,
    activates_at: DateTime<Utc>,
    retires_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    // Shared with every `SigningKey` handed out, which is one per token.
    jwk: Arc<CoreJsonWebKey>,
    public: PublicKey,
    sealed_private: String,
    private: OnceLock<Arc<PrivateKey>>,
}

impl CachedKey {
    fn from_row(row: signing_key::Model) -> Result<Self, OAuthError> {
        let alg = SigningAlg::parse(&row.alg)
            .ok_or_else(|| OAuthError::Internal(format!("unknown alg {:?}", row.alg)))?;
        let jwk = Arc::new(
            serde_json::from_str(&row.public_jwk)
                .map_err(|e| OAuthError::Internal(format!("stored JWK: {e}")))?,
        );
        let public = PublicKey::from_jwk_json(alg, &row.public_jwk)?;
        Ok(Self {
            id: row.id,
            kid: row.kid,
            alg,
            activates_at: row.activates_at,
            retires_at: row.retires_at,
            expires_at: row.expires_at,
            jwk,
            public,
            sealed_private: row.private_key,
            private: OnceLock::new(),
        })
    }

    fn is_published_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }

    fn can_sign_at(&self, now: DateTime<Utc>) -> bool {
        self.activates_at <= now
            && self.retires_at.is_none_or(|r| r > now)
            && self.is_published_at(now)
    }

    /// The order in which signing keys are preferred: latest activation, then the
    /// later row. Every process applies it to the same rows, so two keys made by a
    /// start-up race resolve to the same choice everywhere.
    fn preference(&self) -> (DateTime<Utc>, i32) {
        (self.activates_at, self.id)
    }

    fn private_key(&self, encryptor: &KeyEncryptor) -> Result<Arc<PrivateKey>, OAuthError> {
        if let Some(key) = self.private.get() {
            return Ok(Arc::clone(key));
        }
        let der = encryptor.decrypt(&self.kid, &self.sealed_private)?;
        let key = Arc::new(PrivateKey::from_pkcs8_der(self.alg, &der)?);
        // Two tasks may decrypt at once; both results are the same key, keep one.
        Ok(Arc::clone(self.private.get_or_init(|| key)))
    }
}

/// A decrypted key that may sign now, as chosen by [`KeyRing::signing_key`].
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    jwk: Arc<CoreJsonWebKey>,
    private: Arc<PrivateKey>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key id, as put in JWS headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key signs with.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK, as published.
    pub fn public_jwk(&self) -> &CoreJsonWebKey {
        &self.jwk
    }

    /// The raw JWS signature over `signing_input`.
    pub fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, OAuthError> {
        self.private.sign(signing_input)
    }
}

/// Lets openidconnect's ID token builder sign with a key from the ring.
impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(
        &self,
        signature_alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SigningError> {
        if *signature_alg != self.alg.to_core() {
            return Err(SigningError::UnsupportedAlg(format!("{signature_alg:?}")));
        }
        self.private
            .sign(message)
            .map_err(|e| SigningError::Other(e.to_string()))
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        CoreJsonWebKey::clone(&self.jwk)
    }
}

/// The published JWKS of `keys`, in their order.
fn key_set(keys: &[Arc<CachedKey>]) -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(keys.iter().map(|k| CoreJsonWebKey::clone(&k.jwk)).collect())
}

impl KeyRing {
    /// A key ring over `db`, whose private keys `encryptor` seals.
    pub fn new(db: DatabaseConnection, encryptor: KeyEncryptor) -> Self {
        Self {
            db,
            encryptor,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            clock: clock::Clock::system(),
            cache: Arc::default(),
            reload_lock: Arc::default(),
            jwks_doc: Arc::default(),
        }
    }

    /// Measures the cache's age on `clock`.
    pub fn with_clock(mut self, clock: clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Changes how long the cached key list is trusted (default 30 s).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Makes sure each algorithm has a key that can sign at `now`, creating one
    /// active at once where none can. Returns the kids created.
    ///
    /// Processes starting together may each create a key for the same algorithm.
    /// That is harmless: both are published, and every process picks the same
    /// one to sign with (see `CachedKey::preference`).
    #[tracing::instrument(skip(self))]
    pub async fn ensure(&self, now: DateTime<Utc>) -> Result<Vec<String>, OAuthError> {
        self.refresh(None).await?;
        let mut created = Vec::new();
        for alg in SigningAlg::ALL {
            if self.current(alg, now).is_none() {
                let key = generate(alg).await?;
                let (kid, row) = self.new_row(&key, now, now)?;
                row.insert(&self.db).await?;
                tracing::info!(alg = alg.as_str(), kid, "created a signing key");
                created.push(kid);
            }
        }
        if !created.is_empty() {
            // Re-read, so a key another process created meanwhile is seen too.
            self.refresh(None).await?;
        }
        Ok(created)
    }

    /// Adds a key for `alg` that signs from `now + publish_ahead`; until then it
    /// is only published. Keys of `alg` that would still sign at that instant
    /// retire then and expire `token_lifetime` later, so the tokens they signed
    /// keep verifying until those tokens expire. Returns the new kid.
    #[tracing::instrument(skip(self))]
    pub async fn rotate(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        publish_ahead: Duration,
        token_lifetime: Duration,
    ) -> Result<String, OAuthError> {
        let activates_at = add(now, publish_ahead)?;
        let expires_at = add(activates_at, token_lifetime)?;
        let key = generate(alg).await?;
        let (kid, row) = self.new_row(&key, now, activates_at)?;

        let txn = dbtx::write(&self.db).await?;
        let previous = signing_key::Entity::find()
            .filter(signing_key::Column::Alg.eq(alg.as_str()))
            .all(&txn)
            .await?;
        row.insert(&txn).await?;
        for old in previous {
            let signs_then =
                old.activates_at <= activates_at && old.retires_at.is_none_or(|r| r > activates_at);
            if signs_then {
                let mut old = old.into_active_model();
                old.retires_at = Set(Some(activates_at));
                old.expires_at = Set(Some(expires_at));
                old.update(&txn).await?;
            }
        }
        txn.commit().await?;
        tracing::info!(alg = alg.as_str(), kid, %activates_at, "rotated a signing key");
        self.refresh(None).await?;
        Ok(kid)
    }

    /// The published key set at `now`: every key not yet expired, so the next,
    /// the current and the previous keys of each algorithm.
    pub async fn jwks(&self, now: DateTime<Utc>) -> Result<CoreJsonWebKeySet, OAuthError> {
        self.refresh_if_stale().await?;
        Ok(key_set(&self.published(now)))
    }

    /// The keys published at `now`, in the document's order.
    fn published(&self, now: DateTime<Utc>) -> Vec<Arc<CachedKey>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<Arc<CachedKey>> = cache
            .keys
            .values()
            .filter(|k| k.is_published_at(now))
            .cloned()
            .collect();
        // A stable order keeps the document byte-identical between refreshes,
        // which is kind to HTTP caches.
        keys.sort_by_key(|k| {
            let alg_rank = SigningAlg::ALL.iter().position(|a| *a == k.alg);
            (alg_rank, std::cmp::Reverse(k.preference()))
        });
        keys
    }

    /// [`jwks`](Self::jwks) as the JSON document served to relying parties,
    /// encoded once per key load and kept until one of its keys stops being
    /// published: relying parties fetch it far more often than either happens.
    pub async fn jwks_json(&self, now: DateTime<Utc>) -> Result<bytes::Bytes, OAuthError> {
        self.refresh_if_stale().await?;
        let loaded_at = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded_at;
        // The hot path: a read lock and a comparison, no sorting or encoding.
        if let Some(d) = self
            .jwks_doc
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && d.loaded_at == loaded_at
            && d.from <= now
            && d.until.is_none_or(|u| now < u)
        {
            return Ok(d.json.clone());
        }
        let keys = self.published(now);
        let json = bytes::Bytes::from(
            serde_json::to_vec(&key_set(&keys))
                .map_err(|e| OAuthError::Internal(format!("JWKS encoding: {e}")))?,
        );
        // A reload between reading `loaded_at` and the keys only makes the
        // next call rebuild: the stamp is older than the keys, never newer.
        *self
            .jwks_doc
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(JwksDoc {
            loaded_at,
            from: now,
            until: keys.iter().filter_map(|k| k.expires_at).min(),
            json: json.clone(),
        });
        Ok(json)
    }

    /// The key that signs for `alg` at `now`: the most recently activated one not
    /// yet retired, decrypted.
    pub async fn signing_key(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
    ) -> Result<SigningKey, OAuthError> {
        self.refresh_if_stale().await?;
        let key = match self.current(alg, now) {
            Some(key) => key,
            None => {
                self.refresh(Some(MISS_REFRESH_GAP)).await?;
                self.current(alg, now)
                    .ok_or(OAuthError::NoSigningKey(alg))?
            }
        };
        Ok(SigningKey {
            kid: key.kid.clone(),
            alg,
            jwk: Arc::clone(&key.jwk),
            private: key.private_key(&self.encryptor)?,
        })
    }

    /// Signs `claims` (a JSON object) as a compact JWS with the header
    /// `{"alg", "typ", "kid"}`, using the key that signs for `alg` at `now`.
    pub async fn sign_jwt(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &Value,
        now: DateTime<Utc>,
    ) -> Result<String, OAuthError> {
        let key = self.signing_key(alg, now).await?;
        let input = jws::signing_input(alg, typ, key.kid(), claims)?;
        let signature = key.sign(input.as_bytes())?;
        Ok(jws::assemble(input, &signature))
    }

    /// Checks a JWT this server issued and returns its claims.
    ///
    /// Refuses unsigned tokens, algorithms outside `allowed`, key-pointing or
    /// critical header members, unknown or expired kids, a kid used with another
    /// algorithm than its own, bad signatures, and tokens outside their `exp`,
    /// `nbf` and `iat` window (60 s of leeway).
    pub async fn verify_jwt(
        &self,
        token: &str,
        allowed: &[SigningAlg],
        now: DateTime<Utc>,
    ) -> Result<Value, OAuthError> {
        let token = jws::parse(token, allowed)?;
        self.refresh_if_stale().await?;
        let key = match self.find(&token.kid) {
            Some(key) => key,
            None => {
                self.refresh(Some(MISS_REFRESH_GAP)).await?;
                self.find(&token.kid)
                    .ok_or(OAuthError::InvalidToken("unknown kid"))?
            }
        };
        if key.alg != token.alg {
            return Err(OAuthError::InvalidToken("alg does not match the key"));
        }
        if !key.is_published_at(now) {
            return Err(OAuthError::InvalidToken("key expired"));
        }
        if !key.public.verify(token.signing_input, &token.signature) {
            return Err(OAuthError::InvalidToken("bad signature"));
        }
        jws::check_times(&token.claims, now)?;
        Ok(Value::Object(token.claims))
    }

    fn current(&self, alg: SigningAlg, now: DateTime<Utc>) -> Option<Arc<CachedKey>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache
            .keys
            .values()
            .filter(|k| k.alg == alg && k.can_sign_at(now))
            .max_by_key(|k| k.preference())
            .cloned()
    }

    fn find(&self, kid: &str) -> Option<Arc<CachedKey>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.keys.get(kid).cloned()
    }

    fn new_row(
        &self,
        key: &PrivateKey,
        now: DateTime<Utc>,
        activates_at: DateTime<Utc>,
    ) -> Result<(String, signing_key::ActiveModel), OAuthError> {
        let kid = new_kid();
        let der = key.to_pkcs8_der()?;
        let private_key = self.encryptor.encrypt(&kid, &der)?;
        let public_jwk = serde_json::to_string(&key.public_jwk(&kid)?)
            .map_err(|e| OAuthError::Internal(format!("JWK encoding: {e}")))?;
        let row = signing_key::ActiveModel {
            kid: Set(kid.clone()),
            alg: Set(key.alg().as_str().to_owned()),
            private_key: Set(private_key),
            public_jwk: Set(public_jwk),
            created_at: Set(now),
            activates_at: Set(activates_at),
            retires_at: Set(None),
            expires_at: Set(None),
            ..Default::default()
        };
        Ok((kid, row))
    }

    /// Reloads when the cache is older than the refresh interval. A failed reload
    /// keeps the previous keys in service, so a database hiccup does not stop
    /// signing; it only fails when nothing was ever loaded.
    async fn refresh_if_stale(&self) -> Result<(), OAuthError> {
        match self.refresh(Some(self.refresh_interval)).await {
            Ok(()) => Ok(()),
            Err(e) if self.has_loaded() => {
                tracing::warn!(error = %e, "could not reload signing keys; using the cached ones");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn has_loaded(&self) -> bool {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.loaded_at.is_some()
    }

    fn is_younger_than(&self, max_age: Duration) -> bool {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let age_ms = self.clock.now_ms() - cache.loaded_ms;
        cache.loaded_at.is_some()
            && u128::try_from(age_ms).is_ok_and(|age| age < max_age.as_millis())
    }

    /// Reads every key again, unless `max_age` is given and the cache is younger.
    async fn refresh(&self, max_age: Option<Duration>) -> Result<(), OAuthError> {
        if max_age.is_some_and(|age| self.is_younger_than(age)) {
            return Ok(());
        }
        let _reloading = self.reload_lock.lock().await;
        // Another task may have reloaded while this one waited.
        if max_age.is_some_and(|age| self.is_younger_than(age)) {
            return Ok(());
        }
        let rows = load_rows(&self.db).await?;
        let mut keys = HashMap::with_capacity(rows.len());
        {
            let old = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            for row in rows {
                let kid = row.kid.clone();
                match CachedKey::from_row(row) {
                    Ok(key) => {
                        // Keep what was already decrypted: the key material of a
                        // kid never changes, only its dates do.
                        if let Some(private) = old.keys.get(&kid).and_then(|k| k.private.get()) {
                            let _ = key.private.set(Arc::clone(private));
                        }
                        keys.insert(kid, Arc::new(key));
                    }
                    Err(e) => {
                        tracing::error!(kid, error = %e, "skipping an unreadable signing key")
                    }
                }
            }
        }
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        *cache = Cache {
            loaded_at: Some(Instant::now()),
            loaded_ms: self.clock.now_ms(),
            keys,
        };
        Ok(())
    }
}

async fn load_rows(db: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, OAuthError> {
    Ok(signing_key::Entity::find().all(db).await?)
}

/// Generates a key on the blocking pool: RSA generation can take a second.
async fn generate(alg: SigningAlg) -> Result<PrivateKey, OAuthError> {
    tokio::task::spawn_blocking(move || PrivateKey::generate(alg))
        .await
        .map_err(|e| OAuthError::Internal(format!("key generation task: {e}")))?
}

fn add(at: DateTime<Utc>, span: Duration) -> Result<DateTime<Utc>, OAuthError> {
    TimeDelta::from_std(span)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .ok_or_else(|| OAuthError::Internal("key rotation time out of range".to_owned()))
}

#[cfg(test)]
mod tests;
