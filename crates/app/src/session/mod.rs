//! Server-side browser sessions. The cookie carries only a random 256-bit id;
//! everything else stays on the server, keyed by the id's SHA-256 so that a copy
//! of the store does not hold usable cookies.

pub mod throttle;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SessionConfig;
use crate::store::{Store, StoreError};

/// Length of an encoded session id: 32 bytes in unpadded base64url.
const ID_LEN: usize = 43;
/// A session's `last_seen` is written back at most this often, so that a page
/// full of requests costs one store write, not one each.
const TOUCH_EVERY_SECS: i64 = 30;

/// What the server remembers about a signed-in browser.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionData {
    /// The account signed in.
    pub account_id: i32,
    /// Unix time the session was opened.
    pub created_at: i64,
    /// Unix time of the last request.
    pub last_seen: i64,
    /// Unix time of the last authentication.
    pub auth_time: i64,
    /// Authentication methods used (`pwd`, …).
    pub amr: Vec<String>,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// Client IP at login.
    pub ip: String,
    /// Browser at login.
    pub user_agent: String,
    /// Public session identifier given to relying parties (`sid`); unrelated to
    /// the cookie value.
    #[serde(default)]
    pub sid: String,
    /// Unix time in milliseconds at which this session id was issued, stamped
    /// by [`Sessions::create`]: "end every session" compares it with the
    /// account's epoch.
    #[serde(default)]
    pub opened_ms: i64,
    /// The local user signed in, when not the holder. Sessions written before
    /// local users existed read as the holder's.
    #[serde(default)]
    pub user_id: Option<i32>,
}

impl SessionData {
    /// The session a login opens at `now`, with a fresh anti-CSRF token and
    /// public id; [`Sessions::create`] stamps `opened_ms`. Every way a login
    /// can end (password alone, mailed code, second factor) opens it here.
    pub fn opened(
        account_id: i32,
        user_id: Option<i32>,
        now: i64,
        amr: Vec<String>,
        ip: String,
        user_agent: String,
    ) -> Self {
        Self {
            account_id,
            created_at: now,
            last_seen: now,
            auth_time: now,
            amr,
            csrf: random_token(),
            ip,
            user_agent,
            sid: random_token(),
            opened_ms: 0,
            user_id,
        }
    }

    /// Adds each method to `amr` once, keeping the order they were used in.
    pub fn add_methods(&mut self, methods: &[&str]) {
        for m in methods {
            if !self.amr.iter().any(|x| x == m) {
                self.amr.push((*m).to_owned());
            }
        }
    }
}

/// A random 256-bit value, base64url: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Opens, reads and ends sessions.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    cfg: SessionConfig,
    clock: clock::Clock,
}

fn hashed(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn key(id: &str) -> String {
    key_of_hash(&hashed(id))
}

fn key_of_hash(hash: &str) -> String {
    format!("session:{hash}")
}

/// The account's index of its sessions: the SHA-256 of each id (never the id
/// itself), so that the security page can list and end them on any replica.
fn index_key(account_id: i32) -> String {
    format!("sessions-of:{account_id}")
}

/// A live session found through its account's index.
#[derive(Clone, Debug)]
pub struct ListedSession {
    /// The SHA-256 of its id: what the store keys it by. Never shown.
    hash: String,
    /// The session.
    pub data: SessionData,
}

/// Where the account's session epoch lives: sessions issued at or before it
/// are dead. One key per account instead of an index of its sessions, so that
/// ending them all is one write whatever their number.
fn epoch_key(account_id: i32) -> String {
    format!("session-epoch:{account_id}")
}

fn looks_like_id(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Sessions {
    /// Sessions over a store.
    pub fn new(store: impl Into<Store>, cfg: SessionConfig) -> Self {
        Self {
            store: store.into(),
            cfg,
            clock: clock::Clock::system(),
        }
    }

    /// Reads the time from `clock`: when sessions open and when every
    /// session of an account was ended.
    pub fn with_clock(mut self, clock: clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store the sessions live in, shared with the other short-lived
    /// state (revocations).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn ttl(&self, d: &SessionData, now: i64) -> Option<std::time::Duration> {
        let idle_end = d.last_seen + self.cfg.idle_timeout.as_secs() as i64;
        let abs_end = d.created_at + self.cfg.absolute_timeout.as_secs() as i64;
        let end = idle_end.min(abs_end);
        (end > now).then(|| std::time::Duration::from_secs((end - now) as u64))
    }

    /// Opens a new session with a fresh id; returns the id for the cookie.
    pub async fn create(&self, data: &SessionData) -> Result<String, StoreError> {
        self.create_stamped(data, None).await
    }

    async fn create_stamped(
        &self,
        data: &SessionData,
        not_before_ms: Option<i64>,
    ) -> Result<String, StoreError> {
        let id = random_token();
        let ttl = self
            .ttl(data, data.last_seen)
            .unwrap_or(std::time::Duration::from_secs(1));
        let mut data = data.clone();
        let now_ms = self.clock.now_ms();
        data.opened_ms = not_before_ms.map_or(now_ms, |n| n.max(now_ms));
        let json = serde_json::to_string(&data).map_err(|e| StoreError(e.to_string()))?;
        let hash = hashed(&id);
        self.store.set(&key_of_hash(&hash), &json, ttl).await?;
        // Indexed until the absolute end; ended or idle sessions are dropped
        // from the index when it is read.
        let abs_end_ms = (data.created_at + self.cfg.absolute_timeout.as_secs() as i64) * 1000;
        self.store
            .index_add(
                &index_key(data.account_id),
                &hash,
                abs_end_ms,
                self.cfg.absolute_timeout + std::time::Duration::from_secs(60),
            )
            .await?;
        Ok(id)
    }

    /// Opens a session like [`Self::create`], stamped after `epoch_ms` even
    /// within the same millisecond: the caller's own session surviving the
    /// "end every session" it just caused.
    pub async fn create_after(
        &self,
        data: &SessionData,
        epoch_ms: i64,
    ) -> Result<String, StoreError> {
        self.create_stamped(data, Some(epoch_ms + 1)).await
    }

    /// Every live session of an account, oldest first. Entries of sessions
    /// that ended (logout, timeouts, "end every session") leave the index here.
    pub async fn list(&self, account_id: i32, now: i64) -> Result<Vec<ListedSession>, StoreError> {
        let ik = index_key(account_id);
        let mut out = Vec::new();
        for hash in self.store.index_members(&ik).await? {
            let live = match self.store.get(&key_of_hash(&hash)).await? {
                Some(json) => serde_json::from_str::<SessionData>(&json).ok(),
                None => None,
            };
            let live = match live {
                Some(d)
                    if d.account_id == account_id
                        && self.ttl(&d, now).is_some()
                        && !self.before_epoch(&d).await? =>
                {
                    Some(d)
                }
                _ => None,
            };
            match live {
                Some(data) => out.push(ListedSession { hash, data }),
                None => self.store.index_remove(&ik, &hash).await?,
            }
        }
        out.sort_by_key(|s| (s.data.created_at, s.data.opened_ms));
        Ok(out)
    }

    /// Ends one listed session: its cookie no longer works anywhere.
    pub async fn destroy_listed(&self, s: &ListedSession) -> Result<(), StoreError> {
        self.store.delete(&key_of_hash(&s.hash)).await?;
        self.store
            .index_remove(&index_key(s.data.account_id), &s.hash)
            .await
    }

    /// Reads a live session, enforcing the idle and absolute timeouts, and
    /// records the activity.
    pub async fn load(&self, id: &str, now: i64) -> Result<Option<SessionData>, StoreError> {
        if !looks_like_id(id) {
            return Ok(None);
        }
        let k = key(id);
        let Some(json) = self.store.get(&k).await? else {
            return Ok(None);
        };
        let Ok(mut data) = serde_json::from_str::<SessionData>(&json) else {
            self.store.delete(&k).await?;
            return Ok(None);
        };
        if self.ttl(&data, now).is_none() || self.before_epoch(&data).await? {
            self.store.delete(&k).await?;
            return Ok(None);
        }
        if now - data.last_seen >= TOUCH_EVERY_SECS {
            data.last_seen = now;
            if let Some(ttl) = self.ttl(&data, now) {
                let json = serde_json::to_string(&data).map_err(|e| StoreError(e.to_string()))?;
                self.store.set(&k, &json, ttl).await?;
            }
        }
        Ok(Some(data))
    }

    async fn before_epoch(&self, data: &SessionData) -> Result<bool, StoreError> {
        let epoch = self.store.get(&epoch_key(data.account_id)).await?;
        Ok(epoch
            .and_then(|e| e.parse::<i64>().ok())
            .is_some_and(|e| data.opened_ms <= e))
    }

    /// Ends every session of an account at once (password reset, "sign out
    /// everywhere", support): every session issued until now stops working on
    /// every replica. The epoch outlives the longest possible session.
    pub async fn end_all(&self, account_id: i32) -> Result<(), StoreError> {
        let now_ms = self.clock.now_ms();
        let ttl = self.cfg.absolute_timeout + std::time::Duration::from_secs(60);
        self.store
            .set(&epoch_key(account_id), &now_ms.to_string(), ttl)
            .await
    }

    /// Ends every session of an account but the caller's (a password change):
    /// the epoch moves to now, then the caller's session is issued again
    /// under a new id stamped just after it. Returns the new id.
    pub async fn end_others(
        &self,
        account_id: i32,
        data: &SessionData,
    ) -> Result<String, StoreError> {
        let now_ms = self.clock.now_ms();
        let ttl = self.cfg.absolute_timeout + std::time::Duration::from_secs(60);
        self.store
            .set(&epoch_key(account_id), &now_ms.to_string(), ttl)
            .await?;
        let id = random_token();
        let ttl = self
            .ttl(data, data.last_seen)
            .unwrap_or(std::time::Duration::from_secs(1));
        let mut data = data.clone();
        // After the epoch even within the same millisecond.
        data.opened_ms = now_ms + 1;
        let json = serde_json::to_string(&data).map_err(|e| StoreError(e.to_string()))?;
        self.store.set(&key(&id), &json, ttl).await?;
        Ok(id)
    }

    /// Ends a session: its cookie no longer works anywhere.
    pub async fn destroy(&self, id: &str) -> Result<(), StoreError> {
        if looks_like_id(id) {
            self.store.delete(&key(id)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sessions() -> Sessions {
        Sessions::new(
            crate::store::memory(),
            SessionConfig {
                idle_timeout: Duration::from_secs(1800),
                absolute_timeout: Duration::from_secs(43200),
            },
        )
    }

    fn data(now: i64) -> SessionData {
        SessionData::opened(
            1,
            None,
            now,
            vec!["pwd".into()],
            "127.0.0.1".into(),
            "test".into(),
        )
    }

    #[test]
    fn a_login_opens_a_session_authenticated_now_with_its_own_tokens() {
        let (a, b) = (data(1_000), data(1_000));
        assert_eq!(
            (a.created_at, a.last_seen, a.auth_time),
            (1_000, 1_000, 1_000)
        );
        assert_ne!(a.csrf, b.csrf);
        assert_ne!(a.sid, b.sid);
        assert_ne!(a.csrf, a.sid);
    }

    #[test]
    fn methods_are_added_once_in_the_order_used() {
        let mut d = data(0);
        d.add_methods(&["otp", "mfa"]);
        d.add_methods(&["hwk", "mfa", "pwd"]);
        assert_eq!(d.amr, ["pwd", "otp", "mfa", "hwk"]);
    }

    #[tokio::test]
    async fn ending_all_sessions_kills_those_issued_before_and_spares_later_ones() {
        let s = sessions();
        let now = chrono::Utc::now().timestamp();
        let mut other = data(now);
        other.account_id = 2;
        let before = s.create(&data(now)).await.unwrap();
        let elsewhere = s.create(&other).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        s.end_all(1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let after = s.create(&data(now)).await.unwrap();
        assert!(s.load(&before, now).await.unwrap().is_none());
        assert!(s.load(&after, now).await.unwrap().is_some());
        assert!(
            s.load(&elsewhere, now).await.unwrap().is_some(),
            "another account's sessions live on"
        );
    }

    #[tokio::test]
    async fn an_account_lists_its_own_live_sessions_only() {
        let s = sessions();
        let now = chrono::Utc::now().timestamp();
        let mut other = data(now);
        other.account_id = 2;
        let a = s.create(&data(now)).await.unwrap();
        let b = s.create(&data(now)).await.unwrap();
        s.create(&other).await.unwrap();
        assert_eq!(s.list(1, now).await.unwrap().len(), 2);
        s.destroy(&a).await.unwrap();
        let left = s.list(1, now).await.unwrap();
        assert_eq!(left.len(), 1);
        s.destroy_listed(&left[0]).await.unwrap();
        assert!(s.load(&b, now).await.unwrap().is_none());
        assert!(s.list(1, now).await.unwrap().is_empty());
        assert_eq!(s.list(2, now).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn ids_are_random_256_bit() {
        let s = sessions();
        let a = s.create(&data(1000)).await.unwrap();
        let b = s.create(&data(1000)).await.unwrap();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[tokio::test]
    async fn idle_timeout_is_enforced_on_the_server() {
        let s = sessions();
        let now = chrono::Utc::now().timestamp();
        let id = s.create(&data(now)).await.unwrap();
        assert!(s.load(&id, now + 1799).await.unwrap().is_some());
        // Activity at +1799 moved the idle window.
        assert!(s.load(&id, now + 1799 + 1799).await.unwrap().is_some());
        assert!(
            s.load(&id, now + 1799 + 1799 + 1801)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn absolute_timeout_is_enforced_even_when_active() {
        let s = sessions();
        let now = chrono::Utc::now().timestamp();
        let id = s.create(&data(now)).await.unwrap();
        let mut t = now;
        while t < now + 43_000 {
            t += 1000;
            assert!(
                s.load(&id, t).await.unwrap().is_some(),
                "dead at {}",
                t - now
            );
        }
        assert!(s.load(&id, now + 43_201).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn destroyed_and_malformed_ids_are_dead() {
        let s = sessions();
        let now = chrono::Utc::now().timestamp();
        let id = s.create(&data(now)).await.unwrap();
        s.destroy(&id).await.unwrap();
        assert!(s.load(&id, now).await.unwrap().is_none());
        assert!(s.load("../../etc/passwd", now).await.unwrap().is_none());
    }
}
