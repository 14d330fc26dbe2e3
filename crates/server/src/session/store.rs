//! Short-lived shared state: Redis when configured, process memory otherwise.
//!
//! Everything a replica must share with its peers (sessions, failure counters)
//! goes through here, so with Redis any replica can serve any request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// The store could not be reached; callers answer 503 and change nothing.
#[derive(Debug, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(pub String);

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        Self(e.to_string())
    }
}

/// A key-value store with expiry.
#[derive(Clone)]
pub enum Store {
    /// In this process only: the embedded default, for one instance.
    Memory(Arc<MemoryStore>),
    /// Redis, shared by every replica.
    Redis(RedisStore),
}

/// Redis connection and key prefix.
#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConn,
    prefix: Arc<str>,
}

/// One Redis server (reconnecting by itself), or a Redis Cluster, whose
/// client follows the slot map and reconnects to the nodes by itself. Every
/// command Guichet sends touches one key, so any of them routes to one slot.
#[derive(Clone)]
enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// How Guichet reaches Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// One server (or a proxy in front of several): one URL.
    Standalone,
    /// A Redis Cluster: one or more seed node URLs, comma-separated.
    Cluster,
}

/// Counts one more and sets the expiry only on the first count, in one
/// atomic step on one key (a script rather than MULTI, which Redis Cluster
/// clients cannot always route).
static INCR_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local n = redis.call('INCR', KEYS[1]) \
         if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
         return n",
    )
});

/// Replaces a value that exists, keeping its expiry, and returns the old
/// one, in one atomic step on one key.
static SWAP_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local v = redis.call('GET', KEYS[1]) \
         if v then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end \
         return v",
    )
});

/// Adds a member to an index with its deadline, drops members past theirs,
/// and keeps the index alive as long as its newest member, in one atomic step
/// on one key (so it routes in Redis Cluster too).
static INDEX_ADD_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) \
         redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) \
         local ttl = redis.call('PTTL', KEYS[1]) \
         if ttl < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end \
         return 1",
    )
});

/// A counter of attempts with the time of the last one, kept in one string
/// `"<count>:<unix ms>"` under one key (so one script sees both, and it routes
/// in Redis Cluster). A bare `"<count>"` (the former format) reads as a count
/// with no time.
fn parse_attempts(v: &str) -> (i64, i64) {
    let (n, at) = v.split_once(':').unwrap_or((v, "0"));
    (n.parse().unwrap_or(0), at.parse().unwrap_or(0))
}

/// The wait the schedule imposes after `count` attempts, `free` of them
/// without any; the last delay repeats.
pub(crate) fn scheduled_delay(count: i64, free: u32, delays_ms: &[u64]) -> i64 {
    let over = count - i64::from(free);
    if over <= 0 || delays_ms.is_empty() {
        return 0;
    }
    let i = (over as usize).min(delays_ms.len()) - 1;
    delays_ms[i] as i64
}

/// Judges and counts an attempt in one atomic step on one key: refuses with
/// the wait still due (changing nothing), or counts the attempt and records
/// its time. ARGV: now (ms), free attempts, key lifetime (ms), then the delays
/// (ms). Answers `{0, wait_ms}` or `{1, count_before, time_before}`.
/// Parallel requests take their time before they reach Redis, so they may
/// arrive out of order: only a scheduled delay refuses (a free attempt never
/// waits on a neighbour stamped a millisecond later), and the recorded time
/// never goes back.
static RESERVE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local v = redis.call('GET', KEYS[1]) \
         local n, at = 0, 0 \
         if v then \
           n = tonumber(string.match(v, '^(%d+)')) or 0 \
           at = tonumber(string.match(v, ':(%-?%d+)$')) or 0 \
         end \
         local now = tonumber(ARGV[1]) \
         local over = n - tonumber(ARGV[2]) \
         local k = #ARGV - 3 \
         local delay = 0 \
         if over > 0 and k > 0 then \
           if over > k then over = k end \
           delay = tonumber(ARGV[3 + over]) \
         end \
         local wait = at + delay - now \
         if delay > 0 and wait > 0 then return {0, wait} end \
         local stamp = now \
         if at > now then stamp = at end \
         local value = tostring(n + 1) .. ':' .. string.format('%d', stamp) \
         if v then redis.call('SET', KEYS[1], value, 'KEEPTTL') \
         else redis.call('SET', KEYS[1], value, 'PX', ARGV[3]) end \
         return {1, n, at}",
    )
});

/// Gives one counted attempt back: one less, and the previous attempt's time
/// again if no later attempt was recorded since. ARGV: the time the attempt
/// recorded, the time it replaced.
static RELEASE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local v = redis.call('GET', KEYS[1]) \
         if not v then return 0 end \
         local n = (tonumber(string.match(v, '^(%d+)')) or 0) - 1 \
         local at = string.match(v, ':(%-?%d+)$') or '0' \
         if at == ARGV[1] then at = ARGV[2] end \
         if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end \
         redis.call('SET', KEYS[1], tostring(n) .. ':' .. at, 'KEEPTTL') \
         return n",
    )
});

/// What [`Store::reserve`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Counted. Before it, `count` attempts were on record, the last at
    /// `last_ms` (0 when none).
    Counted { count: i64, last_ms: i64 },
    /// Refused, nothing recorded: the schedule wants this many more
    /// milliseconds.
    Refused { wait_ms: i64 },
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    /// Connects to Redis and checks it answers. Keys are prefixed with `prefix`
    /// so that several deployments (or test runs) can share one Redis.
    pub async fn redis(
        mode: RedisMode,
        urls: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let connect = async {
            Ok::<_, StoreError>(match mode {
                RedisMode::Standalone => {
                    let client = redis::Client::open(urls.trim())?;
                    let cfg = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout))
                        .set_number_of_retries(1);
                    RedisConn::Single(client.get_connection_manager_with_config(cfg).await?)
                }
                RedisMode::Cluster => {
                    let nodes: Vec<&str> = urls.split(',').map(str::trim).collect();
                    let client = redis::cluster::ClusterClientBuilder::new(nodes)
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(1)
                        .build()?;
                    RedisConn::Cluster(client.get_async_connection().await?)
                }
            })
        };
        let conn = tokio::time::timeout(timeout * 2, connect)
            .await
            .map_err(|_| StoreError(format!("no answer within {timeout:?}")))??;
        let store = Self::Redis(RedisStore {
            conn,
            prefix: prefix.into(),
        });
        store.ping().await?;
        Ok(store)
    }

    /// Checks the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r) => {
                r.query_again::<String>(&redis::cmd("PING")).await?;
                Ok(())
            }
        }
    }

    /// Reads a value.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.get(key)),
            Self::Redis(r) => Ok(r
                .query_again::<Option<String>>(redis::cmd("GET").arg(r.key(key)))
                .await?),
        }
    }

    /// Reads several values in one round trip (a pipeline on one server;
    /// one read per key on a cluster, where the keys live on different
    /// nodes), in the order of `keys`.
    pub async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.get_many(keys)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                if let RedisConn::Cluster(_) = c {
                    let mut out = Vec::with_capacity(keys.len());
                    for k in keys {
                        out.push(
                            redis::cmd("GET")
                                .arg(r.key(k))
                                .query_async::<Option<String>>(&mut c)
                                .await?,
                        );
                    }
                    return Ok(out);
                }
                let mut pipe = redis::pipe();
                for k in keys {
                    pipe.cmd("GET").arg(r.key(k));
                }
                match pipe.query_async::<Vec<Option<String>>>(&mut c).await {
                    Err(e) if is_dropped(&e) => {
                        let mut c = r.conn.clone();
                        Ok(pipe.query_async::<Vec<Option<String>>>(&mut c).await?)
                    }
                    other => Ok(other?),
                }
            }
        }
    }

    /// Writes a value that disappears after `ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        match self {
            Self::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Self::Redis(r) => {
                r.query_again::<()>(
                    redis::cmd("SET")
                        .arg(r.key(key))
                        .arg(value)
                        .arg("PX")
                        .arg(ttl_ms),
                )
                .await?;
                Ok(())
            }
        }
    }

    /// Writes a value only if the key still exists (`SET … XX`), in one
    /// step: an update that must not bring back what someone else took.
    /// False when there was nothing to replace.
    pub async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        match self {
            Self::Memory(m) => Ok(m.replace(key, value, ttl)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let done: Option<String> = redis::cmd("SET")
                    .arg(r.key(key))
                    .arg(value)
                    .arg("XX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut c)
                    .await?;
                Ok(done.is_some())
            }
        }
    }

    /// Deletes a value.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.delete(key);
                Ok(())
            }
            Self::Redis(r) => {
                r.query_again::<()>(redis::cmd("DEL").arg(r.key(key)))
                    .await?;
                Ok(())
            }
        }
    }

    /// Reads and deletes a value in one atomic step: of several concurrent
    /// takers, exactly one gets it (single-use codes).
    pub async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.take(key)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                Ok(redis::cmd("GETDEL")
                    .arg(r.key(key))
                    .query_async::<Option<String>>(&mut c)
                    .await?)
            }
        }
    }

    /// Replaces an existing value, keeping its expiry, and returns the old
    /// one, in one atomic step; nothing is written when the key is absent.
    /// Of concurrent swappers exactly one reads the first value (a code's
    /// redemption), and the key goes on telling what became of it.
    pub async fn swap(&self, key: &str, value: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.swap(key, value)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                Ok(SWAP_SCRIPT
                    .key(r.key(key))
                    .arg(value)
                    .invoke_async::<Option<String>>(&mut c)
                    .await?)
            }
        }
    }

    /// How long `key` still lives; `None` when it does not exist (or never
    /// expires).
    pub async fn time_left(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.time_left(key)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let ms: i64 = redis::cmd("PTTL")
                    .arg(r.key(key))
                    .query_async(&mut c)
                    .await?;
                Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
            }
        }
    }

    /// Adds one to a counter atomically and returns the new value. The counter
    /// expires `ttl` after its first increment, so old failures are forgotten.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.incr(key, ttl)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let mut script = INCR_SCRIPT.key(r.key(key));
                script.arg(ttl.as_millis().max(1) as u64);
                let n: i64 = match script.invoke_async(&mut c).await {
                    // Refused: the count never left this process, so
                    // sending it on the new connection counts it once.
                    Err(e) if e.is_connection_refusal() => {
                        let mut c = r.conn.clone();
                        script.invoke_async(&mut c).await?
                    }
                    other => other?,
                };
                Ok(n)
            }
        }
    }
}

/// Attempt counters: judged and counted before a secret is checked.
impl Store {
    /// One atomic step on `key`: given the attempts on record and the time of
    /// the last, either refuses (the delay that `free` and `delays_ms` set for
    /// that count has not passed since the last attempt; nothing changes) or
    /// counts this attempt at `now_ms`. So of any number of parallel attempts,
    /// only as many as the schedule allows are counted and may go on. The
    /// counter expires `ttl` after its first attempt.
    pub async fn reserve(
        &self,
        key: &str,
        free: u32,
        delays_ms: &[u64],
        now_ms: i64,
        ttl: Duration,
    ) -> Result<Reserved, StoreError> {
        match self {
            Self::Memory(m) => Ok(m.reserve(key, free, delays_ms, now_ms, ttl)),
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let mut inv = RESERVE_SCRIPT.key(r.key(key));
                inv.arg(now_ms).arg(free).arg(ttl.as_millis().max(1) as u64);
                for d in delays_ms {
                    inv.arg(*d);
                }
                // Sent again on a dropped connection (Redis restarted): if
                // the first try did run and only its answer was lost, the
                // attempt is counted twice, which errs on the side of the
                // limit, never past it.
                let out: Vec<i64> = match inv.invoke_async(&mut c).await {
                    Err(e) if is_dropped(&e) => {
                        let mut c = r.conn.clone();
                        inv.invoke_async(&mut c).await?
                    }
                    other => other?,
                };
                match out.as_slice() {
                    [0, wait_ms] => Ok(Reserved::Refused { wait_ms: *wait_ms }),
                    [1, count, last_ms] => Ok(Reserved::Counted {
                        count: *count,
                        last_ms: *last_ms,
                    }),
                    _ => Err(StoreError(format!("unexpected reservation answer {out:?}"))),
                }
            }
        }
    }

    /// Gives back one attempt that [`Store::reserve`] counted at
    /// `counted_ms`, whose previous attempt was at `last_ms`: one less on
    /// record, and the previous time again unless a later attempt came since.
    pub async fn release(
        &self,
        key: &str,
        counted_ms: i64,
        last_ms: i64,
    ) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.release(key, counted_ms, last_ms);
                Ok(())
            }
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                RELEASE_SCRIPT
                    .key(r.key(key))
                    .arg(counted_ms)
                    .arg(last_ms)
                    .invoke_async::<i64>(&mut c)
                    .await?;
                Ok(())
            }
        }
    }

    /// The attempts on record under `key`, and the time of the last (0, 0
    /// when none).
    pub async fn attempts(&self, key: &str) -> Result<(i64, i64), StoreError> {
        Ok(self
            .get(key)
            .await?
            .map(|v| parse_attempts(&v))
            .unwrap_or((0, 0)))
    }
}

/// Indexes: small sets of members, each with a deadline (Unix milliseconds),
/// under one key. They let an account find its own sessions on any replica;
/// members past their deadline are dropped as the index is written and never
/// returned.
impl Store {
    /// Adds (or moves) `member` with `deadline_ms`; the index lives at least
    /// `ttl` from now.
    pub async fn index_add(
        &self,
        key: &str,
        member: &str,
        deadline_ms: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self {
            Self::Memory(m) => {
                m.index_add(key, member, deadline_ms, now_ms, ttl);
                Ok(())
            }
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                INDEX_ADD_SCRIPT
                    .key(r.key(key))
                    .arg(member)
                    .arg(deadline_ms)
                    .arg(now_ms)
                    .arg(ttl.as_millis().max(1) as u64)
                    .invoke_async::<i64>(&mut c)
                    .await?;
                Ok(())
            }
        }
    }

    /// The members whose deadline has not passed.
    pub async fn index_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self {
            Self::Memory(m) => Ok(m.index_members(key, now_ms)),
            Self::Redis(r) => Ok(r
                .query_again::<Vec<String>>(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(r.key(key))
                        .arg(format!("({now_ms}"))
                        .arg("+inf"),
                )
                .await?),
        }
    }

    /// Removes a member.
    pub async fn index_remove(&self, key: &str, member: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => {
                m.index_remove(key, member);
                Ok(())
            }
            Self::Redis(r) => {
                r.query_again::<()>(redis::cmd("ZREM").arg(r.key(key)).arg(member))
                    .await?;
                Ok(())
            }
        }
    }
}

impl RedisStore {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Sends an idempotent command (a read, a `SET` with its expiry, a
    /// `DEL`), and sends it once more when the connection turned out to be
    /// dead: after Redis restarts, the first command on the old connection
    /// fails and makes the client reconnect, and the second finds the new
    /// connection, so the request that met the restart still succeeds.
    /// Counters, swaps and takes are sent twice only when the first try was
    /// refused (never sent): their effect would otherwise count twice.
    async fn query_again<T: redis::FromRedisValue>(
        &self,
        cmd: &Cmd,
    ) -> Result<T, redis::RedisError> {
        let mut c = self.conn.clone();
        match cmd.query_async::<T>(&mut c).await {
            Err(e) if is_dropped(&e) => {
                let mut c = self.conn.clone();
                cmd.query_async::<T>(&mut c).await
            }
            other => other,
        }
    }
}

/// Whether a command failed because its connection was gone (Redis restarted
/// or the connection was cut), so that a new connection may succeed; not
/// for timeouts, where a second try would double the wait.
fn is_dropped(e: &redis::RedisError) -> bool {
    !e.is_timeout() && (e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal())
}

/// How many writes between sweeps of expired entries.
const SWEEP_EVERY: u64 = 1024;

/// The in-memory store: a map of values with deadlines.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    map: HashMap<String, (String, Instant)>,
    /// Indexes: members with their deadline (Unix ms), and the index's own end.
    indexes: HashMap<String, (HashMap<String, i64>, Instant)>,
    writes: u64,
}

impl MemoryInner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Instant)> {
        let expired = self.map.get(key).is_some_and(|(_, d)| *d <= now);
        if expired {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.map.retain(|_, (_, d)| *d > now);
            self.indexes.retain(|_, (_, d)| *d > now);
        }
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the map half-written (every
        // operation is one map call), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.lock()
            .live(key, Instant::now())
            .map(|(v, _)| v.clone())
    }

    /// Under one lock, as one pipeline is one round trip.
    fn get_many(&self, keys: &[&str]) -> Vec<Option<String>> {
        let now = Instant::now();
        let mut g = self.lock();
        keys.iter()
            .map(|k| g.live(k, now).map(|(v, _)| v.clone()))
            .collect()
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let now = Instant::now();
        let mut g = self.lock();
        g.map.insert(key.to_owned(), (value.to_owned(), now + ttl));
        g.wrote(now);
    }

    fn replace(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut g = self.lock();
        if g.live(key, now).is_none() {
            return false;
        }
        g.map.insert(key.to_owned(), (value.to_owned(), now + ttl));
        g.wrote(now);
        true
    }

    fn take(&self, key: &str) -> Option<String> {
        let now = Instant::now();
        let mut g = self.lock();
        g.live(key, now)?;
        g.map.remove(key).map(|(v, _)| v)
    }

    fn swap(&self, key: &str, value: &str) -> Option<String> {
        let now = Instant::now();
        let mut g = self.lock();
        let (v, _) = g.live(key, now)?;
        Some(std::mem::replace(v, value.to_owned()))
    }

    fn delete(&self, key: &str) {
        self.lock().map.remove(key);
    }

    fn index_add(&self, key: &str, member: &str, deadline_ms: i64, now_ms: i64, ttl: Duration) {
        let now = Instant::now();
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
        entry.1 = entry.1.max(now + ttl);
        g.wrote(now);
    }

    fn index_members(&self, key: &str, now_ms: i64) -> Vec<String> {
        let now = Instant::now();
        let g = self.lock();
        match g.indexes.get(key) {
            Some((members, end)) if *end > now => members
                .iter()
                .filter(|(_, d)| **d > now_ms)
                .map(|(m, _)| m.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn index_remove(&self, key: &str, member: &str) {
        if let Some((members, _)) = self.lock().indexes.get_mut(key) {
            members.remove(member);
        }
    }

    fn time_left(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        self.lock()
            .live(key, now)
            .map(|(_, d)| d.saturating_duration_since(now))
    }

    /// [`Store::reserve`] under the lock.
    fn reserve(
        &self,
        key: &str,
        free: u32,
        delays_ms: &[u64],
        now_ms: i64,
        ttl: Duration,
    ) -> Reserved {
        let now = Instant::now();
        let mut g = self.lock();
        let (count, last_ms, deadline) = match g.live(key, now) {
            Some((v, d)) => {
                let (n, at) = parse_attempts(v);
                (n, at, *d)
            }
            None => (0, 0, now + ttl),
        };
        let delay = scheduled_delay(count, free, delays_ms);
        let wait_ms = last_ms + delay - now_ms;
        if delay > 0 && wait_ms > 0 {
            return Reserved::Refused { wait_ms };
        }
        let stamp = now_ms.max(last_ms);
        g.map
            .insert(key.to_owned(), (format!("{}:{stamp}", count + 1), deadline));
        g.wrote(now);
        Reserved::Counted { count, last_ms }
    }

    /// [`Store::release`] under the lock.
    fn release(&self, key: &str, counted_ms: i64, last_ms: i64) {
        let now = Instant::now();
        let mut g = self.lock();
        let Some((v, _)) = g.live(key, now) else {
            return;
        };
        let (n, at) = parse_attempts(v);
        let at = if at == counted_ms { last_ms } else { at };
        if n <= 1 {
            g.map.remove(key);
        } else {
            *v = format!("{}:{at}", n - 1);
        }
    }

    fn incr(&self, key: &str, ttl: Duration) -> i64 {
        let now = Instant::now();
        let mut g = self.lock();
        let n = match g.live(key, now) {
            Some((v, _)) => {
                let n = v.parse::<i64>().unwrap_or(0) + 1;
                *v = n.to_string();
                n
            }
            None => {
                g.map.insert(key.to_owned(), ("1".to_owned(), now + ttl));
                1
            }
        };
        g.wrote(now);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_values_expire() {
        let s = Store::memory();
        s.set("a", "1", Duration::from_millis(30)).await.unwrap();
        assert_eq!(s.get("a").await.unwrap().as_deref(), Some("1"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(s.get("a").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_counters_are_atomic_under_concurrency() {
        let s = Store::memory();
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
        let s = Store::memory();
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
        let s = Store::memory();
        s.set("k", "v", Duration::from_secs(5)).await.unwrap();
        s.delete("k").await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn get_many_answers_in_the_order_asked() {
        let s = Store::memory();
        s.set("b", "2", Duration::from_secs(5)).await.unwrap();
        s.set("a", "1", Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            s.get_many(&["a", "missing", "b"]).await.unwrap(),
            [Some("1".to_owned()), None, Some("2".to_owned())]
        );
    }
}
