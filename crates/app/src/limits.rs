//! Request limits per client address and per target, for the forms that
//! start work or reach someone else's mailbox: sign-up, "I don't know my
//! customer handle" and handing a service contact to another customer.
//!
//! Each limit is a fixed-window counter in the session store (so every
//! replica shares it), counted with one atomic `INCR` *before* the work
//! starts: of N parallel requests, at most the limit's worth go ahead, and a
//! refused request costs one store round trip. The target (an email address
//! or a handle) is keyed by its SHA-256, so the store never holds it in clear,
//! and it is counted whether or not an account answers to it: a refusal is
//! the same for a target that exists and one that does not.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::store::StateStore;

/// At most `count` requests per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in one window.
    pub count: u32,
    /// The window's length.
    pub window: Duration,
}

impl Rate {
    /// `count` requests per `secs` seconds.
    pub const fn per(count: u32, secs: u64) -> Self {
        Self {
            count,
            window: Duration::from_secs(secs),
        }
    }
}

/// What is limited, each per client address and per target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-ups (page and API) from one address.
    pub signup_per_ip: Rate,
    /// Sign-ups naming one primary email.
    pub signup_per_email: Rate,
    /// Forgotten-handle requests from one address.
    pub forgot_handle_per_ip: Rate,
    /// Forgotten-handle requests naming one email.
    pub forgot_handle_per_email: Rate,
    /// Contact requests from one address.
    pub contact_requests_per_ip: Rate,
    /// Contact requests naming one handle.
    pub contact_requests_per_handle: Rate,
}

impl Default for RateLimits {
    /// The shipped defaults, as in `config/default.toml`.
    fn default() -> Self {
        Self {
            signup_per_ip: Rate::per(20, 3600),
            signup_per_email: Rate::per(5, 3600),
            forgot_handle_per_ip: Rate::per(20, 900),
            forgot_handle_per_email: Rate::per(5, 3600),
            contact_requests_per_ip: Rate::per(30, 3600),
            contact_requests_per_handle: Rate::per(10, 3600),
        }
    }
}

/// The kinds of request limited here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A sign-up; the target is the primary email.
    Signup,
    /// "I don't know my customer handle"; the target is the email.
    ForgotHandle,
    /// A service contact handed to another customer; the target is the handle.
    ContactRequest,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::ForgotHandle => "forgot-handle",
            Self::ContactRequest => "contact",
        }
    }

    fn rates(self, l: &RateLimits) -> (Rate, Rate) {
        match self {
            Self::Signup => (l.signup_per_ip, l.signup_per_email),
            Self::ForgotHandle => (l.forgot_handle_per_ip, l.forgot_handle_per_email),
            Self::ContactRequest => (l.contact_requests_per_ip, l.contact_requests_per_handle),
        }
    }
}

/// Counts one request for `purpose` from `ip` about `target` (as typed; it
/// is trimmed and lowercased here so that case does not dodge the limit),
/// and refuses it with [`AppError::RateLimited`] when either count is over
/// its limit. Call it before any work the request starts.
pub async fn admit(
    store: &dyn StateStore,
    limits: &RateLimits,
    purpose: Purpose,
    ip: IpAddr,
    target: &str,
) -> Result<(), AppError> {
    let (per_ip, per_target) = purpose.rates(limits);
    let now_ms = store.now_ms();
    let by_ip = format!("limit:{}:ip:{}", purpose.name(), client_key(ip));
    if let Some(wait) = count(store, &by_ip, per_ip, now_ms).await? {
        return Err(AppError::RateLimited(wait));
    }
    let digest = Sha256::digest(target.trim().to_lowercase().as_bytes());
    let by_target = format!("limit:{}:to:{}", purpose.name(), hex::encode(digest));
    if let Some(wait) = count(store, &by_target, per_target, now_ms).await? {
        return Err(AppError::RateLimited(wait));
    }
    Ok(())
}

/// The address a client is counted under: an IPv4 address (IPv4-mapped ones
/// included) as is, an IPv6 address by its /64, which one subscriber usually
/// holds whole.
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        v4 => v4.to_string(),
    }
}

/// Adds one to `key`'s counter in the current window (a key of its own per
/// window, living as long as the window); the time left in the window when
/// the count is over the limit.
async fn count(
    store: &dyn StateStore,
    key: &str,
    rate: Rate,
    now_ms: i64,
) -> Result<Option<Duration>, AppError> {
    let (index, left_ms) = window(rate.window, now_ms);
    let n = store
        .incr(&format!("{key}:{index}"), Duration::from_millis(left_ms))
        .await?;
    Ok((n > i64::from(rate.count)).then(|| Duration::from_millis(left_ms)))
}

/// The window `now_ms` falls in, and the milliseconds left in it. Windows
/// are fixed and start at multiples of their length since the Unix epoch,
/// the same for every key: a refusal's `Retry-After` depends on the purpose
/// and the clock only, never on the target, so it cannot tell targets apart.
fn window(window: Duration, now_ms: i64) -> (i64, u64) {
    let len = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let index = now_ms.div_euclid(len);
    let end = (index + 1) * len;
    (index, u64::try_from(end - now_ms).unwrap_or(1).max(1))
}

/// Seconds to put in `Retry-After` for a wait: rounded up, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_lasts_its_length_then_the_next_begins() {
        let len = Duration::from_secs(60);
        assert_eq!(window(len, 120_000), (2, 60_000));
        assert_eq!(window(len, 179_999), (2, 1));
        assert_eq!(window(len, 180_000), (3, 60_000));
        assert_eq!(window(len, 150_500), (2, 29_500));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7");
    }

    #[tokio::test]
    async fn the_count_past_the_limit_is_refused_with_the_time_left() {
        let store = crate::store::MemoryStore::default();
        let limits = RateLimits {
            signup_per_ip: Rate::per(3, 3600),
            signup_per_email: Rate::per(100, 3600),
            ..RateLimits::default()
        };
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for n in 0..3 {
            admit(
                &store,
                &limits,
                Purpose::Signup,
                ip,
                &format!("a{n}@x.test"),
            )
            .await
            .unwrap();
        }
        match admit(&store, &limits, Purpose::Signup, ip, "z@x.test").await {
            Err(AppError::RateLimited(wait)) => assert!(wait <= Duration::from_secs(3600)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another purpose, another address: counted apart.
        admit(&store, &limits, Purpose::ForgotHandle, ip, "z@x.test")
            .await
            .unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        admit(&store, &limits, Purpose::Signup, other, "z@x.test")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_target_is_counted_whatever_its_case() {
        let store = crate::store::MemoryStore::default();
        let limits = RateLimits {
            forgot_handle_per_email: Rate::per(2, 3600),
            ..RateLimits::default()
        };
        let ip = |n: u8| IpAddr::from([192, 0, 2, n]);
        admit(&store, &limits, Purpose::ForgotHandle, ip(1), "Ada@X.test")
            .await
            .unwrap();
        admit(
            &store,
            &limits,
            Purpose::ForgotHandle,
            ip(2),
            " ada@x.test ",
        )
        .await
        .unwrap();
        assert!(matches!(
            admit(&store, &limits, Purpose::ForgotHandle, ip(3), "ADA@x.TEST").await,
            Err(AppError::RateLimited(_))
        ));
    }
}
