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
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
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

        let txn = self.db.begin().await?;
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
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use migration::{Migrator, MigratorTrait};
    use openidconnect::JsonWebKey as _;
    use sea_orm::{Database, PaginatorTrait};
    use serde_json::json;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const TEN_MINUTES: Duration = Duration::from_secs(600);

    async fn database() -> DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        db
    }

    fn encryptor() -> KeyEncryptor {
        KeyEncryptor::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    async fn ring() -> KeyRing {
        KeyRing::new(database().await, encryptor())
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    fn at(offset: Duration) -> DateTime<Utc> {
        t0() + TimeDelta::from_std(offset).unwrap()
    }

    fn claims(issued: DateTime<Utc>, lifetime: Duration) -> Value {
        json!({
            "iss": "https://id.example",
            "sub": "s-1",
            "iat": issued.timestamp(),
            "exp": issued.timestamp() + i64::try_from(lifetime.as_secs()).unwrap(),
        })
    }

    fn segments(token: &str) -> (Value, Value, Vec<u8>) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let json = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        (
            json(parts[0]),
            json(parts[1]),
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    /// A token with any header and claims, signed by a real key of the ring.
    fn forge(key: &SigningKey, header: Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(&header), b64(claims));
        let sig = key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn refusal(result: Result<Value, OAuthError>) -> &'static str {
        match result {
            Err(OAuthError::InvalidToken(why)) => why,
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    async fn row_count(ring: &KeyRing) -> u64 {
        signing_key::Entity::find().count(&ring.db).await.unwrap()
    }

    #[tokio::test]
    async fn ensure_creates_one_key_per_alg_once() {
        let ring = ring().await;
        assert_eq!(ring.ensure(t0()).await.unwrap().len(), 3);
        assert!(ring.ensure(t0()).await.unwrap().is_empty());
        assert!(ring.ensure(at(HOUR * 24 * 365)).await.unwrap().is_empty());
        assert_eq!(row_count(&ring).await, 3);
        for alg in SigningAlg::ALL {
            assert_eq!(ring.signing_key(alg, t0()).await.unwrap().alg(), alg);
        }
    }

    #[tokio::test]
    async fn signing_without_keys_is_a_distinct_error() {
        let ring = ring().await;
        let err = ring
            .sign_jwt(SigningAlg::Es256, "JWT", &json!({}), t0())
            .await
            .unwrap_err();
        assert!(
            matches!(err, OAuthError::NoSigningKey(SigningAlg::Es256)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn jwks_has_kid_alg_use_and_no_private_members() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let doc: Value = serde_json::from_slice(&ring.jwks_json(t0()).await.unwrap()).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        let mut seen = Vec::new();
        for key in keys {
            let members = key.as_object().unwrap();
            let alg = SigningAlg::parse(key["alg"].as_str().unwrap()).unwrap();
            let expected_kty = match alg {
                SigningAlg::Rs256 => "RSA",
                SigningAlg::Es256 => "EC",
                SigningAlg::EdDsa => "OKP",
            };
            assert_eq!(key["kty"], expected_kty);
            assert_eq!(key["use"], "sig");
            assert_eq!(key["kid"].as_str().unwrap().len(), 22);
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(!members.contains_key(private), "{private} in {key}");
            }
            seen.push(alg);
        }
        assert_eq!(seen, SigningAlg::ALL);
        // The typed form agrees.
        let set = ring.jwks(t0()).await.unwrap();
        assert!(set.keys().iter().all(|k| k.key_id().is_some()));
    }

    #[tokio::test]
    async fn sign_then_verify_for_each_alg_and_independently() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let jwks = ring.jwks(t0()).await.unwrap();
        for alg in SigningAlg::ALL {
            let sent = claims(t0(), TEN_MINUTES);
            let token = ring.sign_jwt(alg, "at+jwt", &sent, t0()).await.unwrap();
            let (header, payload, signature) = segments(&token);
            let kid = ring.signing_key(alg, t0()).await.unwrap().kid().to_owned();
            assert_eq!(
                header,
                json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": kid})
            );
            assert_eq!(payload, sent);
            assert_eq!(ring.verify_jwt(&token, &[alg], t0()).await.unwrap(), sent);

            // openidconnect, given only the published JWK, accepts the signature.
            let jwk = jwks
                .keys()
                .iter()
                .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid.as_str()))
                .unwrap();
            let input = token.rsplit_once('.').unwrap().0;
            jwk.verify_signature(&alg.to_core(), input.as_bytes(), &signature)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));

            // A ring built on another connection's view, public data only, agrees.
            let other = KeyRing::new(ring.db.clone(), encryptor());
            assert_eq!(
                other
                    .verify_jwt(&token, &SigningAlg::ALL, t0())
                    .await
                    .unwrap(),
                sent
            );
        }
    }

    #[tokio::test]
    async fn refuses_what_it_did_not_sign() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let sent = claims(t0(), TEN_MINUTES);
        let es = ring.signing_key(SigningAlg::Es256, t0()).await.unwrap();
        let ed = ring.signing_key(SigningAlg::EdDsa, t0()).await.unwrap();
        let good = ring
            .sign_jwt(SigningAlg::Es256, "JWT", &sent, t0())
            .await
            .unwrap();
        let all = &SigningAlg::ALL;
        let check = |token: String| {
            let ring = ring.clone();
            async move { ring.verify_jwt(&token, all, t0()).await }
        };

        // Tampered payload, signature kept.
        let parts: Vec<&str> = good.split('.').collect();
        let mut other_claims = sent.clone();
        other_claims["sub"] = json!("someone-else");
        let tampered = format!("{}.{}.{}", parts[0], b64(&other_claims), parts[2]);
        assert_eq!(refusal(check(tampered).await), "bad signature");

        // Unsigned, with or without a signature segment.
        let none = json!({"alg": "none", "typ": "JWT", "kid": es.kid()});
        let unsigned = format!("{}.{}.", b64(&none), b64(&sent));
        assert_eq!(refusal(check(unsigned).await), "unsigned token");
        assert_eq!(
            refusal(check(forge(&es, none, &sent)).await),
            "unsigned token"
        );

        // HS256 with our kid: the public key must never become an HMAC secret.
        let hs = json!({"alg": "HS256", "typ": "JWT", "kid": es.kid()});
        assert_eq!(
            refusal(check(forge(&es, hs, &sent)).await),
            "unsupported alg"
        );

        // Headers that point at another key.
        for member in ["jku", "x5u", "jwk", "crit"] {
            let mut header = json!({"alg": "ES256", "typ": "JWT", "kid": es.kid()});
            header[member] = json!("https://attacker.example/keys");
            assert_eq!(
                refusal(check(forge(&es, header, &sent)).await),
                "forbidden header member"
            );
        }

        // A kid we never issued, even with a signature from a real key.
        let stranger = json!({"alg": "ES256", "typ": "JWT", "kid": "AAAAAAAAAAAAAAAAAAAAAA"});
        assert_eq!(
            refusal(check(forge(&es, stranger, &sent)).await),
            "unknown kid"
        );

        // An EdDSA kid claimed for ES256.
        let confused = json!({"alg": "ES256", "typ": "JWT", "kid": ed.kid()});
        assert_eq!(
            refusal(check(forge(&es, confused, &sent)).await),
            "alg does not match the key"
        );

        // An algorithm the caller does not accept here.
        assert_eq!(
            refusal(ring.verify_jwt(&good, &[SigningAlg::Rs256], t0()).await),
            "alg not allowed here"
        );

        // Expiry with 60 s of leeway.
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": es.kid()});
        let expired = json!({"sub": "s", "exp": t0().timestamp() - 61});
        assert_eq!(
            refusal(check(forge(&es, header.clone(), &expired)).await),
            "expired"
        );
        let just = json!({"sub": "s", "exp": t0().timestamp() - 60});
        assert!(check(forge(&es, header.clone(), &just)).await.is_ok());
        let future =
            json!({"sub": "s", "exp": t0().timestamp() + 900, "nbf": t0().timestamp() + 120});
        assert_eq!(
            refusal(check(forge(&es, header.clone(), &future)).await),
            "not yet valid"
        );
        let eternal = json!({"sub": "s"});
        assert_eq!(refusal(check(forge(&es, header, &eternal)).await), "no exp");
    }

    #[tokio::test]
    async fn any_single_character_change_is_refused_without_panic() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
        for alg in SigningAlg::ALL {
            let token = ring
                .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
                .await
                .unwrap();
            let bytes = token.as_bytes();
            for i in 0..bytes.len() {
                let mut changed = bytes.to_vec();
                changed[i] = alphabet[(alphabet.iter().position(|c| *c == bytes[i]).unwrap_or(0)
                    + 1
                    + i % 7)
                    % alphabet.len()];
                if changed == bytes {
                    continue;
                }
                let changed = String::from_utf8(changed).unwrap();
                assert!(
                    ring.verify_jwt(&changed, &SigningAlg::ALL, t0())
                        .await
                        .is_err(),
                    "{alg:?} position {i}"
                );
            }
        }
        // Garbage of every shape.
        let huge = "A".repeat(1 << 20);
        let many = ".".repeat(1 << 16);
        for garbage in [
            "", ".", "..", "a.b", "a.b.c", "a.b.c.d", "\u{0}", "é.é.é", &huge, &many,
        ] {
            assert!(matches!(
                ring.verify_jwt(garbage, &SigningAlg::ALL, t0()).await,
                Err(OAuthError::InvalidToken(_))
            ));
        }
    }

    #[tokio::test]
    async fn rotation_publishes_first_then_signs_then_retires() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let alg = SigningAlg::Es256;
        let old = ring.signing_key(alg, t0()).await.unwrap().kid().to_owned();
        let kids = |set: CoreJsonWebKeySet| -> Vec<String> {
            set.keys()
                .iter()
                .map(|k| k.key_id().unwrap().as_str().to_owned())
                .collect()
        };

        // The served document, encoded and kept, must follow each step too.
        let served = |json: bytes::Bytes| -> Vec<String> {
            let v: Value = serde_json::from_slice(&json).unwrap();
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(served(ring.jwks_json(t0()).await.unwrap()).contains(&old));

        let new = ring.rotate(alg, t0(), HOUR, TEN_MINUTES).await.unwrap();
        assert_ne!(new, old);
        assert!(served(ring.jwks_json(t0()).await.unwrap()).contains(&new));
        // Published at once, but the old key still signs until activation.
        let published = kids(ring.jwks(t0()).await.unwrap());
        assert_eq!(published.len(), 4);
        assert!(published.contains(&new) && published.contains(&old));
        let before = at(HOUR - Duration::from_secs(1));
        assert_eq!(ring.signing_key(alg, before).await.unwrap().kid(), old);
        let late_old = ring
            .sign_jwt(alg, "JWT", &claims(before, TEN_MINUTES), before)
            .await
            .unwrap();
        // A token the old key signed with a lifetime it should not have had.
        let old_key = ring.signing_key(alg, before).await.unwrap();
        let long_lived = forge(
            &old_key,
            json!({"alg": "ES256", "typ": "JWT", "kid": old}),
            &claims(before, HOUR * 24),
        );

        // From activation the new key signs; the old one still verifies.
        assert_eq!(ring.signing_key(alg, at(HOUR)).await.unwrap().kid(), new);
        let during = at(HOUR + TEN_MINUTES - Duration::from_secs(2));
        assert!(ring.verify_jwt(&late_old, &[alg], during).await.is_ok());
        assert!(kids(ring.jwks(during).await.unwrap()).contains(&old));
        assert!(served(ring.jwks_json(during).await.unwrap()).contains(&old));

        // After expiry the old key is gone from the JWKS and verifies nothing.
        let after = at(HOUR + TEN_MINUTES);
        let published = kids(ring.jwks(after).await.unwrap());
        assert_eq!(published.len(), 3);
        assert!(!published.contains(&old) && published.contains(&new));
        assert_eq!(served(ring.jwks_json(after).await.unwrap()), published);
        assert_eq!(
            refusal(ring.verify_jwt(&long_lived, &[alg], after).await),
            "key expired"
        );

        // The stored dates follow the rule.
        let rows = signing_key::Entity::find()
            .filter(signing_key::Column::Alg.eq("ES256"))
            .all(&ring.db)
            .await
            .unwrap();
        let old_row = rows.iter().find(|r| r.kid == old).unwrap();
        let new_row = rows.iter().find(|r| r.kid == new).unwrap();
        assert_eq!(new_row.activates_at, at(HOUR));
        assert_eq!(old_row.retires_at, Some(at(HOUR)));
        assert_eq!(old_row.expires_at, Some(at(HOUR + TEN_MINUTES)));
        assert_eq!(new_row.retires_at, None);
        // Other algorithms are untouched.
        assert_eq!(row_count(&ring).await, 4);
    }

    #[tokio::test]
    async fn another_process_sees_a_rotation_within_its_refresh_interval() {
        let db = database().await;
        let (clock, hand) = clock::Clock::manual(t0());
        let a = KeyRing::new(db.clone(), encryptor())
            .with_refresh_interval(Duration::from_secs(3))
            .with_clock(clock);
        let b = KeyRing::new(db, encryptor());
        a.ensure(t0()).await.unwrap();
        let alg = SigningAlg::EdDsa;
        let old = a.signing_key(alg, t0()).await.unwrap().kid().to_owned();

        let new = b
            .rotate(alg, t0(), Duration::ZERO, TEN_MINUTES)
            .await
            .unwrap();
        let token = b
            .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
            .await
            .unwrap();
        // `a` trusts its cache for a while, then follows.
        assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), old);
        hand.advance(Duration::from_millis(2999));
        assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), old);
        hand.advance(Duration::from_millis(1));
        assert_eq!(a.signing_key(alg, t0()).await.unwrap().kid(), new);
        assert!(a.verify_jwt(&token, &[alg], t0()).await.is_ok());
    }

    #[tokio::test]
    async fn an_unknown_kid_triggers_a_reload() {
        let db = database().await;
        let (clock, hand) = clock::Clock::manual(t0());
        let a = KeyRing::new(db.clone(), encryptor()).with_clock(clock);
        let b = KeyRing::new(db, encryptor());
        a.ensure(t0()).await.unwrap();
        b.rotate(SigningAlg::Rs256, t0(), Duration::ZERO, TEN_MINUTES)
            .await
            .unwrap();
        let token = b
            .sign_jwt(SigningAlg::Rs256, "JWT", &claims(t0(), TEN_MINUTES), t0())
            .await
            .unwrap();
        // Past the miss gap, `a` reloads on the unknown kid despite its 30 s interval.
        hand.advance(MISS_REFRESH_GAP);
        assert!(
            a.verify_jwt(&token, &[SigningAlg::Rs256], t0())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn racing_starts_agree_on_one_signing_key() {
        let db = database().await;
        let a = KeyRing::new(db.clone(), encryptor());
        let b = KeyRing::new(db.clone(), encryptor());
        let (ra, rb) = tokio::join!(a.ensure(t0()), b.ensure(t0()));
        ra.unwrap();
        rb.unwrap();

        // Whatever the interleaving, simulate the worst one: a loser's duplicate
        // for every algorithm, written after the winner's.
        let loser = KeyRing::new(db, encryptor());
        for alg in SigningAlg::ALL {
            let key = PrivateKey::generate(alg).unwrap();
            let (_, row) = loser.new_row(&key, t0(), t0()).unwrap();
            row.insert(&loser.db).await.unwrap();
        }
        let (a, b) = (
            a.with_refresh_interval(Duration::ZERO),
            b.with_refresh_interval(Duration::ZERO),
        );
        for alg in SigningAlg::ALL {
            let ka = a.signing_key(alg, t0()).await.unwrap();
            let kb = b.signing_key(alg, t0()).await.unwrap();
            assert_eq!(ka.kid(), kb.kid());
            let token = a
                .sign_jwt(alg, "JWT", &claims(t0(), TEN_MINUTES), t0())
                .await
                .unwrap();
            assert!(b.verify_jwt(&token, &[alg], t0()).await.is_ok());
        }
        // Nothing new is created once every algorithm can sign.
        assert!(a.ensure(t0()).await.unwrap().is_empty());
        // A later rotation retires every duplicate.
        let new = a
            .rotate(SigningAlg::Es256, t0(), HOUR, TEN_MINUTES)
            .await
            .unwrap();
        assert_eq!(
            b.signing_key(SigningAlg::Es256, at(HOUR))
                .await
                .unwrap()
                .kid(),
            new
        );
        let es_rows = signing_key::Entity::find()
            .filter(signing_key::Column::Alg.eq("ES256"))
            .all(&a.db)
            .await
            .unwrap();
        assert!(
            es_rows
                .iter()
                .filter(|r| r.kid != new)
                .all(|r| r.retires_at == Some(at(HOUR)))
        );
    }

    #[tokio::test]
    async fn private_keys_are_encrypted_and_bound_to_their_row() {
        let ring = ring().await;
        ring.ensure(t0()).await.unwrap();
        let rows = signing_key::Entity::find().all(&ring.db).await.unwrap();
        for row in &rows {
            assert!(!row.private_key.contains("BEGIN"));
            let der = encryptor().decrypt(&row.kid, &row.private_key).unwrap();
            let stored = STANDARD.decode(&row.private_key).unwrap();
            assert!(!stored.windows(der.len()).any(|w| w == der.as_slice()));
            assert!(!row.private_key.contains(&STANDARD.encode(der.as_slice())));
            assert!(!row.public_jwk.contains("\"d\""));
        }

        // A different encryption key cannot sign, but can still publish.
        let wrong = KeyEncryptor::from_base64(&KeyEncryptor::generate_base64()).unwrap();
        let stranger = KeyRing::new(ring.db.clone(), wrong);
        assert!(matches!(
            stranger.signing_key(SigningAlg::EdDsa, t0()).await,
            Err(OAuthError::Internal(_))
        ));
        assert_eq!(stranger.jwks(t0()).await.unwrap().keys().len(), 3);

        // Swapping two rows' ciphertexts makes both unusable.
        let (first, second) = (&rows[0], &rows[1]);
        for (row, sealed) in [(first, &second.private_key), (second, &first.private_key)] {
            let mut active = row.clone().into_active_model();
            active.private_key = Set(sealed.clone());
            active.update(&ring.db).await.unwrap();
        }
        let fresh = KeyRing::new(ring.db.clone(), encryptor());
        for row in [first, second] {
            let alg = SigningAlg::parse(&row.alg).unwrap();
            assert!(matches!(
                fresh.signing_key(alg, t0()).await,
                Err(OAuthError::Internal(_))
            ));
        }
    }
}
