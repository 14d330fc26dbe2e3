//! The Lua scripts that make each multi-step store operation one atomic
//! step on one key.

/// Counts one more and sets the expiry only on the first count, in one
/// atomic step on one key (a script rather than MULTI, which Redis Cluster
/// clients cannot always route).
pub(super) static INCR_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| {
        redis::Script::new(
            "local n = redis.call('INCR', KEYS[1]) \
         if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
         return n",
        )
    });

/// Replaces a value that exists, keeping its expiry, and returns the old
/// one, in one atomic step on one key.
pub(super) static SWAP_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| {
        redis::Script::new(
            "local v = redis.call('GET', KEYS[1]) \
         if v then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end \
         return v",
        )
    });

/// Adds a member to an index with its deadline, drops members past theirs,
/// and keeps the index alive as long as its newest member, in one atomic step
/// on one key (so it routes in Redis Cluster too).
pub(super) static INDEX_ADD_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| {
        redis::Script::new(
            "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) \
         redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) \
         local ttl = redis.call('PTTL', KEYS[1]) \
         if ttl < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end \
         return 1",
        )
    });

/// Judges and counts an attempt in one atomic step on one key: refuses with
/// the wait still due (changing nothing), or counts the attempt and records
/// its time. ARGV: now (ms), free attempts, key lifetime (ms), then the delays
/// (ms). Answers `{0, wait_ms}` or `{1, count_before, time_before}`.
/// Parallel requests take their time before they reach Redis, so they may
/// arrive out of order: only a scheduled delay refuses (a free attempt never
/// waits on a neighbour stamped a millisecond later), and the recorded time
/// never goes back.
pub(super) static RESERVE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| {
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
pub(super) static RELEASE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| {
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
