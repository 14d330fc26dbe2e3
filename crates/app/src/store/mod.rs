//! The port to short-lived shared state (sessions, failure counters, request
//! limits, revocations, single-use codes): a key-value store with expiry,
//! atomic counters and small deadline indexes. Redis implements it in
//! `server`; [`MemoryStore`] serves a single instance and the unit tests.
//!
//! Every operation touches one key, so a Redis Cluster can route each one.

mod memory;

use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryStore;

/// The store could not be reached; callers answer 503 and change nothing.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(pub String);

/// A shared handle on the store the services use.
pub type Store = Arc<dyn StateStore>;

/// An empty in-memory store behind a shared handle.
pub fn memory() -> Store {
    Arc::new(MemoryStore::default())
}

/// An in-memory store whose values expire by `clock`.
pub fn memory_with_clock(clock: clock::Clock) -> Store {
    Arc::new(MemoryStore::with_clock(clock))
}

/// What [`StateStore::reserve`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Counted. Before it, `count` attempts were on record, the last at
    /// `last_ms` (0 when none).
    Counted { count: i64, last_ms: i64 },
    /// Refused, nothing recorded: the schedule wants this many more
    /// milliseconds.
    Refused { wait_ms: i64 },
}

/// A key-value store with expiry, shared by every replica (or by the tasks of
/// one process). Implementations keep each operation atomic on its key.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync {
    /// Checks the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The business time this store's deadlines follow, in Unix
    /// milliseconds: what revocation stamps and rate windows are written
    /// with, so that they agree with the tokens and sessions they judge.
    fn now_ms(&self) -> i64;

    /// Reads a value.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Reads several values in one round trip where the backend allows it,
    /// in the order of `keys`.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError>;

    /// Writes a value that disappears after `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Writes a value only if the key still exists, in one step: an update
    /// that must not bring back what someone else took. False when there was
    /// nothing to replace.
    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Deletes a value.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Reads and deletes a value in one atomic step: of several concurrent
    /// takers, exactly one gets it (single-use codes).
    async fn take(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Replaces an existing value, keeping its expiry, and returns the old
    /// one, in one atomic step; nothing is written when the key is absent.
    /// Of concurrent swappers exactly one reads the first value (a code's
    /// redemption), and the key goes on telling what became of it.
    async fn swap(&self, key: &str, value: &str) -> Result<Option<String>, StoreError>;

    /// How long `key` still lives; `None` when it does not exist (or never
    /// expires).
    async fn time_left(&self, key: &str) -> Result<Option<Duration>, StoreError>;

    /// Adds one to a counter atomically and returns the new value. The counter
    /// expires `ttl` after its first increment, so old failures are forgotten.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError>;

    /// One atomic step on `key`: given the attempts on record and the time of
    /// the last, either refuses (the delay that `free` and `delays_ms` set for
    /// that count has not passed since the last attempt; nothing changes) or
    /// counts this attempt at `now_ms`. So of any number of parallel attempts,
    /// only as many as the schedule allows are counted and may go on. The
    /// counter expires `ttl` after its first attempt.
    async fn reserve(
        &self,
        key: &str,
        free: u32,
        delays_ms: &[u64],
        now_ms: i64,
        ttl: Duration,
    ) -> Result<Reserved, StoreError>;

    /// Gives back one attempt that [`StateStore::reserve`] counted at
    /// `counted_ms`, whose previous attempt was at `last_ms`: one less on
    /// record, and the previous time again unless a later attempt came since.
    async fn release(&self, key: &str, counted_ms: i64, last_ms: i64) -> Result<(), StoreError>;

    /// The attempts on record under `key`, and the time of the last (0, 0
    /// when none).
    async fn attempts(&self, key: &str) -> Result<(i64, i64), StoreError> {
        Ok(self
            .get(key)
            .await?
            .map(|v| parse_attempts(&v))
            .unwrap_or((0, 0)))
    }

    /// Indexes: small sets of members, each with a deadline (Unix
    /// milliseconds), under one key; members past their deadline are dropped
    /// as the index is written and never returned. Adds (or moves) `member`
    /// with `deadline_ms`; the index lives at least `ttl` from now.
    async fn index_add(
        &self,
        key: &str,
        member: &str,
        deadline_ms: i64,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// The members of an index whose deadline has not passed.
    async fn index_members(&self, key: &str) -> Result<Vec<String>, StoreError>;

    /// Removes a member from an index.
    async fn index_remove(&self, key: &str, member: &str) -> Result<(), StoreError>;
}

/// A counter of attempts with the time of the last one, kept in one string
/// `"<count>:<unix ms>"` under one key (so one atomic step sees both, and it
/// routes in Redis Cluster). A bare `"<count>"` (the former format) reads as a
/// count with no time.
pub fn parse_attempts(v: &str) -> (i64, i64) {
    let (n, at) = v.split_once(':').unwrap_or((v, "0"));
    (n.parse().unwrap_or(0), at.parse().unwrap_or(0))
}

/// The wait the schedule imposes after `count` attempts, `free` of them
/// without any; the last delay repeats.
pub fn scheduled_delay(count: i64, free: u32, delays_ms: &[u64]) -> i64 {
    let over = count - i64::from(free);
    if over <= 0 || delays_ms.is_empty() {
        return 0;
    }
    let i = (over as usize).min(delays_ms.len()) - 1;
    delays_ms[i] as i64
}
