//! The in-memory store: the embedded default for a single instance, and what
//! the unit tests run on. Every operation is one step under one lock, which
//! gives it the atomicity the port promises.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use clock::Clock;

use super::{Reserved, StateStore, StoreError, parse_attempts, scheduled_delay};

/// How many writes between sweeps of expired entries.
const SWEEP_EVERY: u64 = 1024;

/// The in-memory store: a map of values with deadlines.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
    /// Deadlines are in this clock's milliseconds, so that a test moving the
    /// application's clock past a lifetime sees the value gone.
    clock: Clock,
}

#[derive(Default)]
struct MemoryInner {
    map: HashMap<String, (String, i64)>,
    /// Indexes: members with their deadline (Unix ms), and the index's own end.
    indexes: HashMap<String, (HashMap<String, i64>, i64)>,
    writes: u64,
}

impl MemoryInner {
    fn live(&mut self, key: &str, now: i64) -> Option<&mut (String, i64)> {
        let expired = self.map.get(key).is_some_and(|(_, d)| *d <= now);
        if expired {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn wrote(&mut self, now: i64) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.map.retain(|_, (_, d)| *d > now);
            self.indexes.retain(|_, (_, d)| *d > now);
        }
    }
}

/// `now` plus `ttl`, in milliseconds.
fn after(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

impl MemoryStore {
    /// An empty store whose values expire by `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            inner: Mutex::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the map half-written (every
        // operation is one map call), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .live(key, self.clock.now_ms())
            .map(|(v, _)| v.clone()))
    }

    /// Under one lock, as one pipeline is one round trip.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        Ok(keys
            .iter()
            .map(|k| g.live(k, now).map(|(v, _)| v.clone()))
            .collect())
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        g.map
            .insert(key.to_owned(), (value.to_owned(), after(now, ttl)));
        g.wrote(now);
        Ok(())
    }

    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        if g.live(key, now).is_none() {
            return Ok(false);
        }
        g.map
            .insert(key.to_owned(), (value.to_owned(), after(now, ttl)));
        g.wrote(now);
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        if g.live(key, now).is_none() {
            return Ok(None);
        }
        Ok(g.map.remove(key).map(|(v, _)| v))
    }

    async fn swap(&self, key: &str, value: &str) -> Result<Option<String>, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        Ok(g.live(key, now)
            .map(|(v, _)| std::mem::replace(v, value.to_owned())))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().map.remove(key);
        Ok(())
    }

    async fn index_add(
        &self,
        key: &str,
        member: &str,
        deadline_ms: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = self.clock.now_ms();
        let now = now_ms;
        let mut g = self.lock();
        let entry = g
            .indexes
            .entry(key.to_owned())
            .or_insert_with(|| (HashMap::new(), now));
        if entry.1 <= now {
            entry.0.clear();
        }
        entry.0.retain(|_, d| *d > now_ms);
        entry.0.insert(member.to_owned(), deadline_ms);
        entry.1 = entry.1.max(after(now, ttl));
        g.wrote(now);
        Ok(())
    }

    async fn index_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now_ms = self.clock.now_ms();
        let now = now_ms;
        let g = self.lock();
        Ok(match g.indexes.get(key) {
            Some((members, end)) if *end > now => members
                .iter()
                .filter(|(_, d)| **d > now_ms)
                .map(|(m, _)| m.clone())
                .collect(),
            _ => Vec::new(),
        })
    }

    async fn index_remove(&self, key: &str, member: &str) -> Result<(), StoreError> {
        if let Some((members, _)) = self.lock().indexes.get_mut(key) {
            members.remove(member);
        }
        Ok(())
    }

    async fn time_left(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self
            .lock()
            .live(key, now)
            .map(|(_, d)| Duration::from_millis((*d - now).max(0) as u64)))
    }

    /// The schedule's judgement and the count, under the lock.
    async fn reserve(
        &self,
        key: &str,
        free: u32,
        delays_ms: &[u64],
        now_ms: i64,
        ttl: Duration,
    ) -> Result<Reserved, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        let (count, last_ms, deadline) = match g.live(key, now) {
            Some((v, d)) => {
                let (n, at) = parse_attempts(v);
                (n, at, *d)
            }
            None => (0, 0, after(now, ttl)),
        };
        let delay = scheduled_delay(count, free, delays_ms);
        let wait_ms = last_ms + delay - now_ms;
        if delay > 0 && wait_ms > 0 {
            return Ok(Reserved::Refused { wait_ms });
        }
        let stamp = now_ms.max(last_ms);
        g.map
            .insert(key.to_owned(), (format!("{}:{stamp}", count + 1), deadline));
        g.wrote(now);
        Ok(Reserved::Counted { count, last_ms })
    }

    /// The give-back, under the lock.
    async fn release(&self, key: &str, counted_ms: i64, last_ms: i64) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        let Some((v, _)) = g.live(key, now) else {
            return Ok(());
        };
        let (n, at) = parse_attempts(v);
        let at = if at == counted_ms { last_ms } else { at };
        if n <= 1 {
            g.map.remove(key);
        } else {
            *v = format!("{}:{at}", n - 1);
        }
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        let now = self.clock.now_ms();
        let mut g = self.lock();
        let n = match g.live(key, now) {
            Some((v, _)) => {
                let n = v.parse::<i64>().unwrap_or(0) + 1;
                *v = n.to_string();
                n
            }
            None => {
                g.map
                    .insert(key.to_owned(), ("1".to_owned(), after(now, ttl)));
                1
            }
        };
        g.wrote(now);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_values_expire() {
        let (clock, hand) = Clock::manual(chrono::Utc::now());
        let s = crate::store::memory_with_clock(clock);
        s.set("a", "1", Duration::from_millis(30)).await.unwrap();
        hand.advance(Duration::from_millis(29));
        assert_eq!(s.get("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(
            s.time_left("a").await.unwrap(),
            Some(Duration::from_millis(1))
        );
        hand.advance(Duration::from_millis(1));
        assert_eq!(s.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_counters_are_atomic_under_concurrency() {
        let s = crate::store::memory();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.incr("c", Duration::from_secs(60)).await.unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort();
        assert_eq!(seen, (1..=50).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn replace_never_brings_back_a_taken_value() {
        let s = crate::store::memory();
        let ttl = Duration::from_secs(5);
        assert!(!s.replace("k", "v", ttl).await.unwrap());
        assert_eq!(s.get("k").await.unwrap(), None);
        s.set("k", "1", ttl).await.unwrap();
        assert!(s.replace("k", "2", ttl).await.unwrap());
        assert_eq!(s.take("k").await.unwrap().as_deref(), Some("2"));
        assert!(!s.replace("k", "3", ttl).await.unwrap());
        assert_eq!(s.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn delete_removes() {
        let s = crate::store::memory();
        s.set("k", "v", Duration::from_secs(5)).await.unwrap();
        s.delete("k").await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn get_many_answers_in_the_order_asked() {
        let s = crate::store::memory();
        s.set("b", "2", Duration::from_secs(5)).await.unwrap();
        s.set("a", "1", Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            s.get_many(&["a", "missing", "b"]).await.unwrap(),
            [Some("1".to_owned()), None, Some("2".to_owned())]
        );
    }
}
