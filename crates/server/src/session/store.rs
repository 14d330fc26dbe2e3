//! Short-lived shared state: Redis when configured, process memory otherwise.
//!
//! Everything a replica must share with its peers (sessions, failure counters)
//! goes through here, so with Redis any replica can serve any request.

use std::sync::Arc;
use std::time::Duration;

use app::store::{MemoryStore, Reserved, StateStore, StoreError};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

mod scripts;
use scripts::{INCR_SCRIPT, INDEX_ADD_SCRIPT, RELEASE_SCRIPT, RESERVE_SCRIPT, SWAP_SCRIPT};

/// A Redis failure, as the port reports it: the store is unavailable.
fn down(e: redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

/// The short-lived state store the deployment picked: the adapter behind
/// [`app::store::StateStore`].
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
    /// Business time, for the deadlines of index members.
    clock: clock::Clock,
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

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    /// The same store reading business time from `clock`. A memory store
    /// starts empty again: this is meant for start-up, before any use.
    pub fn with_clock(self, clock: clock::Clock) -> Self {
        match self {
            Self::Memory(_) => Self::Memory(Arc::new(MemoryStore::with_clock(clock))),
            Self::Redis(r) => Self::Redis(RedisStore { clock, ..r }),
        }
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
                    let client = redis::Client::open(urls.trim()).map_err(down)?;
                    let cfg = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout))
                        .set_number_of_retries(1);
                    RedisConn::Single(
                        client
                            .get_connection_manager_with_config(cfg)
                            .await
                            .map_err(down)?,
                    )
                }
                RedisMode::Cluster => {
                    let nodes: Vec<&str> = urls.split(',').map(str::trim).collect();
                    let client = redis::cluster::ClusterClientBuilder::new(nodes)
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(1)
                        .build()
                        .map_err(down)?;
                    RedisConn::Cluster(client.get_async_connection().await.map_err(down)?)
                }
            })
        };
        let conn = tokio::time::timeout(timeout * 2, connect)
            .await
            .map_err(|_| StoreError(format!("no answer within {timeout:?}")))??;
        let store = Self::Redis(RedisStore {
            conn,
            prefix: prefix.into(),
            clock: clock::Clock::system(),
        });
        store.ping().await?;
        Ok(store)
    }
}

// Each method's contract is written once, on the trait (`app::store`); here
// is how each backend keeps it.
#[async_trait::async_trait]
impl StateStore for Store {
    fn now_ms(&self) -> i64 {
        match self {
            Self::Memory(m) => m.now_ms(),
            Self::Redis(r) => r.clock.now_ms(),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => m.ping().await,
            Self::Redis(r) => {
                r.query_again::<String>(&redis::cmd("PING"))
                    .await
                    .map_err(down)?;
                Ok(())
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => m.get(key).await,
            Self::Redis(r) => Ok(r
                .query_again::<Option<String>>(redis::cmd("GET").arg(r.key(key)))
                .await
                .map_err(down)?),
        }
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        match self {
            Self::Memory(m) => m.get_many(keys).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                if let RedisConn::Cluster(_) = c {
                    let mut out = Vec::with_capacity(keys.len());
                    for k in keys {
                        out.push(
                            redis::cmd("GET")
                                .arg(r.key(k))
                                .query_async::<Option<String>>(&mut c)
                                .await
                                .map_err(down)?,
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
                        Ok(pipe
                            .query_async::<Vec<Option<String>>>(&mut c)
                            .await
                            .map_err(down)?)
                    }
                    other => Ok(other.map_err(down)?),
                }
            }
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        match self {
            Self::Memory(m) => m.set(key, value, ttl).await,
            Self::Redis(r) => {
                r.query_again::<()>(
                    redis::cmd("SET")
                        .arg(r.key(key))
                        .arg(value)
                        .arg("PX")
                        .arg(ttl_ms),
                )
                .await
                .map_err(down)?;
                Ok(())
            }
        }
    }

    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        match self {
            Self::Memory(m) => m.replace(key, value, ttl).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let done: Option<String> = redis::cmd("SET")
                    .arg(r.key(key))
                    .arg(value)
                    .arg("XX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut c)
                    .await
                    .map_err(down)?;
                Ok(done.is_some())
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => m.delete(key).await,
            Self::Redis(r) => {
                r.query_again::<()>(redis::cmd("DEL").arg(r.key(key)))
                    .await
                    .map_err(down)?;
                Ok(())
            }
        }
    }

    async fn take(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => m.take(key).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                Ok(redis::cmd("GETDEL")
                    .arg(r.key(key))
                    .query_async::<Option<String>>(&mut c)
                    .await
                    .map_err(down)?)
            }
        }
    }

    async fn swap(&self, key: &str, value: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(m) => m.swap(key, value).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                Ok(SWAP_SCRIPT
                    .key(r.key(key))
                    .arg(value)
                    .invoke_async::<Option<String>>(&mut c)
                    .await
                    .map_err(down)?)
            }
        }
    }

    async fn time_left(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        match self {
            Self::Memory(m) => m.time_left(key).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let ms: i64 = redis::cmd("PTTL")
                    .arg(r.key(key))
                    .query_async(&mut c)
                    .await
                    .map_err(down)?;
                Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
            }
        }
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        match self {
            Self::Memory(m) => m.incr(key, ttl).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                let mut script = INCR_SCRIPT.key(r.key(key));
                script.arg(ttl.as_millis().max(1) as u64);
                let n: i64 = match script.invoke_async(&mut c).await {
                    // Refused: the count never left this process, so
                    // sending it on the new connection counts it once.
                    Err(e) if e.is_connection_refusal() => {
                        let mut c = r.conn.clone();
                        script.invoke_async(&mut c).await.map_err(down)?
                    }
                    other => other.map_err(down)?,
                };
                Ok(n)
            }
        }
    }

    // Attempt counters: judged and counted before a secret is checked.

    async fn reserve(
        &self,
        key: &str,
        free: u32,
        delays_ms: &[u64],
        now_ms: i64,
        ttl: Duration,
    ) -> Result<Reserved, StoreError> {
        match self {
            Self::Memory(m) => m.reserve(key, free, delays_ms, now_ms, ttl).await,
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
                        inv.invoke_async(&mut c).await.map_err(down)?
                    }
                    other => other.map_err(down)?,
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

    async fn release(&self, key: &str, counted_ms: i64, last_ms: i64) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => m.release(key, counted_ms, last_ms).await,
            Self::Redis(r) => {
                let mut c = r.conn.clone();
                RELEASE_SCRIPT
                    .key(r.key(key))
                    .arg(counted_ms)
                    .arg(last_ms)
                    .invoke_async::<i64>(&mut c)
                    .await
                    .map_err(down)?;
                Ok(())
            }
        }
    }

    // Indexes: small sets of members, each with a deadline (Unix
    // milliseconds), under one key. They let an account find its own
    // sessions on any replica.

    async fn index_add(
        &self,
        key: &str,
        member: &str,
        deadline_ms: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => m.index_add(key, member, deadline_ms, ttl).await,
            Self::Redis(r) => {
                let now_ms = r.clock.now_ms();
                let mut c = r.conn.clone();
                INDEX_ADD_SCRIPT
                    .key(r.key(key))
                    .arg(member)
                    .arg(deadline_ms)
                    .arg(now_ms)
                    .arg(ttl.as_millis().max(1) as u64)
                    .invoke_async::<i64>(&mut c)
                    .await
                    .map_err(down)?;
                Ok(())
            }
        }
    }

    async fn index_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Memory(m) => m.index_members(key).await,
            Self::Redis(r) => Ok(r
                .query_again::<Vec<String>>(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(r.key(key))
                        .arg(format!("({}", r.clock.now_ms()))
                        .arg("+inf"),
                )
                .await
                .map_err(down)?),
        }
    }

    async fn index_remove(&self, key: &str, member: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(m) => m.index_remove(key, member).await,
            Self::Redis(r) => {
                r.query_again::<()>(redis::cmd("ZREM").arg(r.key(key)).arg(member))
                    .await
                    .map_err(down)?;
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

impl From<Store> for app::Store {
    /// The services hold the deployment's store through the port.
    fn from(store: Store) -> Self {
        Arc::new(store)
    }
}
