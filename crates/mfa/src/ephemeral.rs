//! Short-lived state: SMS codes, security-key ceremonies, send counters.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use clock::Clock;

use crate::MfaError;

/// Short-lived state (SMS codes, WebAuthn ceremony states, send counters),
/// kept by the server in Redis or in memory so that any replica can finish
/// what another began. Every value expires on its own.
#[async_trait::async_trait]
pub trait Ephemeral: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl`, replacing what was there.
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), MfaError>;
    /// Reads and deletes atomically (single use).
    async fn take(&self, key: &str) -> Result<Option<String>, MfaError>;
    /// Atomic increment; sets the ttl when the key is created. Returns the new value.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, MfaError>;
}

/// Values by key, each with its expiry in the clock's milliseconds.
type Entries = HashMap<String, (String, i64)>;

/// An in-process [`Ephemeral`], for tests and single-instance development.
/// Every operation happens under one lock, which makes `take` and `incr`
/// atomic.
#[derive(Debug, Default)]
pub struct MemoryEphemeral {
    entries: Mutex<Entries>,
    clock: Clock,
}

impl MemoryEphemeral {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose values expire by `clock`, so tests move past a
    /// lifetime instead of waiting it out.
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            entries: Mutex::default(),
            clock,
        }
    }

    fn deadline(now: i64, ttl: Duration) -> i64 {
        now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, MfaError> {
        self.entries
            .lock()
            .map_err(|_| MfaError::Ephemeral("the in-memory store lock is poisoned".into()))
    }
}

#[async_trait::async_trait]
impl Ephemeral for MemoryEphemeral {
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), MfaError> {
        let now = self.clock.now_ms();
        let mut map = self.lock()?;
        // Sweep on write so the map never outgrows what is alive.
        map.retain(|_, (_, expires)| *expires > now);
        map.insert(key.to_owned(), (value.to_owned(), Self::deadline(now, ttl)));
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, MfaError> {
        let now = self.clock.now_ms();
        let mut map = self.lock()?;
        Ok(map
            .remove(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(value, _)| value))
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, MfaError> {
        let now = self.clock.now_ms();
        let mut map = self.lock()?;
        let entry = map
            .entry(key.to_owned())
            .or_insert_with(|| ("0".to_owned(), Self::deadline(now, ttl)));
        if entry.1 <= now {
            *entry = ("0".to_owned(), Self::deadline(now, ttl));
        }
        let next = entry
            .0
            .parse::<i64>()
            .map_err(|_| MfaError::Ephemeral("a counter holds a non-number".into()))?
            .saturating_add(1);
        entry.0 = next.to_string();
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_single_use() {
        let store = MemoryEphemeral::new();
        store.put("k", "v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some("v"));
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_values_are_gone() {
        let store = MemoryEphemeral::new();
        store.put("k", "v", Duration::ZERO).await.unwrap();
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn incr_counts_and_restarts_after_expiry() {
        let store = MemoryEphemeral::new();
        let ttl = Duration::from_secs(60);
        assert_eq!(store.incr("c", ttl).await.unwrap(), 1);
        assert_eq!(store.incr("c", ttl).await.unwrap(), 2);
        assert_eq!(store.incr("z", Duration::ZERO).await.unwrap(), 1);
        assert_eq!(store.incr("z", Duration::ZERO).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_value_lives_until_its_clock_passes_the_ttl() {
        let (clock, hand) = Clock::manual(chrono::Utc::now());
        let store = MemoryEphemeral::with_clock(clock);
        store.put("k", "v", Duration::from_secs(300)).await.unwrap();
        store
            .put("late", "v", Duration::from_secs(300))
            .await
            .unwrap();
        hand.advance(Duration::from_millis(299_999));
        assert_eq!(store.take("k").await.unwrap().as_deref(), Some("v"));
        hand.advance(Duration::from_millis(1));
        assert_eq!(store.take("late").await.unwrap(), None);
        assert_eq!(store.incr("c", Duration::from_secs(60)).await.unwrap(), 1);
        hand.advance(Duration::from_secs(59));
        assert_eq!(store.incr("c", Duration::from_secs(60)).await.unwrap(), 2);
        hand.advance(Duration::from_secs(1));
        assert_eq!(store.incr("c", Duration::from_secs(60)).await.unwrap(), 1);
    }
}
