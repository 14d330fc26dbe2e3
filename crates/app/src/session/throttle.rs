//! Growing delays after failed attempts at a secret (passwords, second-factor
//! codes, mailed codes, reset links, client secrets), per subject and per
//! client IP.
//!
//! An attempt is counted *before* its secret is checked: one atomic store step
//! per counter ([`StateStore::reserve`](crate::store::StateStore::reserve)) either refuses it with the wait still due,
//! or counts it and records its time. So of any number of parallel guesses,
//! only as many as the delay schedule allows are ever checked (with the
//! shipped schedule, one: the next waits a second after it). A refused attempt
//! counts nothing, so nobody can push a customer along the schedule without
//! having guesses checked. A right answer clears the subject's count and gives
//! the IP its unit back; a wrong one stays counted. Delays are capped, never a
//! permanent lock, so an attacker cannot lock a customer out for good.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::LoginConfig;
use crate::store::{Reserved, Store, StoreError, scheduled_delay};

/// Failures are forgotten this long after the first of a series.
const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Whose failures are counted.
#[derive(Clone, Debug)]
pub enum Subject {
    /// An existing account, however it was named.
    Account(i32),
    /// An identifier that names no account, counted the same way so that the
    /// delays do not tell existing accounts apart.
    Unknown(String),
    /// Wrong second-factor codes of an account: a count of its own, so that a
    /// correct password (which clears the password count) never clears it.
    SecondFactor(i32),
    /// Wrong login codes mailed to an account (risky logins without
    /// two-factor), counted apart for the same reason.
    EmailCode(i32),
    /// Wrong login codes mailed to a local user, counted apart from the
    /// holder's.
    UserEmailCode(i32),
    /// A local user (by their internal id), counted apart from the holder so
    /// that a user's mistakes never delay the holder, nor the other way round.
    User(i32),
    /// Wrong second-factor codes of a local user.
    UserSecondFactor(i32),
    /// Attempts with one password-reset link (by the link as typed, valid or
    /// not): a wrong handle, or a link that is not live.
    ResetLink(String),
}

impl Subject {
    fn key(&self) -> String {
        match self {
            Self::Account(id) => format!("fail:acct:{id}"),
            Self::SecondFactor(id) => format!("fail:2fa:{id}"),
            Self::EmailCode(id) => format!("fail:mailcode:{id}"),
            Self::UserEmailCode(id) => format!("fail:mailcode-user:{id}"),
            Self::User(id) => format!("fail:user:{id}"),
            Self::UserSecondFactor(id) => format!("fail:2fa-user:{id}"),
            Self::Unknown(s) => format!(
                "fail:id:{}",
                hex::encode(Sha256::digest(s.trim().to_lowercase().as_bytes()))
            ),
            Self::ResetLink(token) => format!(
                "fail:reset:{}",
                hex::encode(Sha256::digest(token.as_bytes()))
            ),
        }
    }
}

fn ip_key(ip: IpAddr) -> String {
    format!("fail:ip:{ip}")
}

/// Whole seconds for a `Retry-After` header and the "wait N seconds" text:
/// rounded up, at least one. Every throttled answer computes it this way, so
/// that it says nothing about whether the subject exists.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Counts attempts and says when the next one may come.
#[derive(Clone)]
pub struct Throttle {
    store: Store,
    cfg: LoginConfig,
}

/// One counter's share of a reservation: what to restore if it is given back.
#[derive(Debug)]
struct Held {
    key: String,
    /// Attempts on record before this one.
    count: i64,
    /// The time of the attempt before this one.
    last_ms: i64,
}

/// An attempt counted before its secret is checked. Say how it went: a wrong
/// secret keeps it counted ([`Reservation::failed`]), a right one clears the
/// subject's count and gives the IP its unit back
/// ([`Reservation::succeeded`]), and an attempt that turned out to check no
/// secret gives everything back ([`Reservation::give_back`]). Dropped without
/// a word (an error on the way), it stays counted: the safe side.
#[must_use = "say whether the secret was right"]
pub struct Reservation {
    store: Store,
    subject: Option<Held>,
    ip: Held,
    now_ms: i64,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("subject", &self.subject)
            .field("ip", &self.ip)
            .field("now_ms", &self.now_ms)
            .finish()
    }
}

impl Reservation {
    /// Failures of the subject on record before this attempt (in flight
    /// included): a login after failures is a risky one.
    pub fn prior_failures(&self) -> i64 {
        self.subject.as_ref().map_or(0, |h| h.count)
    }

    /// The secret was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// The secret was right: the subject's failures are forgotten, and the
    /// IP's count is back where it was. The IP's earlier failures are kept:
    /// logging in to one's own account must not reset an attacker's budget.
    pub async fn succeeded(self) -> Result<(), StoreError> {
        if let Some(h) = &self.subject {
            self.store.delete(&h.key).await?;
        }
        self.store
            .release(&self.ip.key, self.now_ms, self.ip.last_ms)
            .await
    }

    /// No secret was judged after all (the form was refused for another
    /// reason): both counts are back where they were.
    pub async fn give_back(self) -> Result<(), StoreError> {
        if let Some(h) = &self.subject {
            self.store.release(&h.key, self.now_ms, h.last_ms).await?;
        }
        self.store
            .release(&self.ip.key, self.now_ms, self.ip.last_ms)
            .await
    }
}

impl Throttle {
    /// A throttle over a store.
    pub fn new(store: impl Into<Store>, cfg: LoginConfig) -> Self {
        Self {
            store: store.into(),
            cfg,
        }
    }

    fn delays_ms(&self) -> Vec<u64> {
        self.cfg
            .failure_delays
            .iter()
            .map(|d| d.as_millis() as u64)
            .collect()
    }

    /// Counts an attempt at `who`'s secret from `ip` before the secret is
    /// checked, or refuses it with the wait still due (then nothing is
    /// counted). The subject is asked first; when the IP refuses, the
    /// subject's count is given back.
    pub async fn reserve(
        &self,
        who: &Subject,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<Result<Reservation, Duration>, StoreError> {
        self.reserve_for(Some(who), ip, now_ms).await
    }

    /// The same with the IP's counter alone, for secrets whose owner must
    /// never be delayed by someone else's guesses elsewhere (client secrets:
    /// a guesser must not lock a real client out).
    pub async fn reserve_ip(
        &self,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<Result<Reservation, Duration>, StoreError> {
        self.reserve_for(None, ip, now_ms).await
    }

    async fn reserve_for(
        &self,
        who: Option<&Subject>,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<Result<Reservation, Duration>, StoreError> {
        let delays = self.delays_ms();
        let refused = |wait_ms: i64| Duration::from_millis(wait_ms.max(1) as u64);
        let subject = match who {
            Some(who) => {
                let key = who.key();
                match self.store.reserve(&key, 0, &delays, now_ms, WINDOW).await? {
                    Reserved::Refused { wait_ms } => return Ok(Err(refused(wait_ms))),
                    Reserved::Counted { count, last_ms } => Some(Held {
                        key,
                        count,
                        last_ms,
                    }),
                }
            }
            None => None,
        };
        let key = ip_key(ip);
        let free = self.cfg.ip_free_failures;
        let ip = match self
            .store
            .reserve(&key, free, &delays, now_ms, WINDOW)
            .await
        {
            Ok(Reserved::Counted { count, last_ms }) => Held {
                key,
                count,
                last_ms,
            },
            Ok(Reserved::Refused { wait_ms }) => {
                if let Some(h) = &subject {
                    self.store.release(&h.key, now_ms, h.last_ms).await?;
                }
                return Ok(Err(refused(wait_ms)));
            }
            Err(e) => {
                if let Some(h) = &subject {
                    // Best effort: the store just failed once already.
                    self.store.release(&h.key, now_ms, h.last_ms).await.ok();
                }
                return Err(e);
            }
        };
        Ok(Ok(Reservation {
            store: self.store.clone(),
            subject,
            ip,
            now_ms,
        }))
    }

    /// How many failures are on record for `who` (within the window, attempts
    /// in flight included).
    pub async fn failures(&self, who: &Subject) -> Result<i64, StoreError> {
        Ok(self.store.attempts(&who.key()).await?.0)
    }

    /// The wait the IP's counted attempts impose now, counting nothing: for
    /// an answer that was judged without a reservation (a right client
    /// secret, see `http::oauth::client_auth`), which must still not come
    /// out while the address owes a wait.
    pub async fn ip_wait(&self, ip: IpAddr, now_ms: i64) -> Result<Duration, StoreError> {
        let (count, last_ms) = self.store.attempts(&ip_key(ip)).await?;
        let delay = scheduled_delay(count, self.cfg.ip_free_failures, &self.delays_ms());
        Ok(Duration::from_millis(
            (last_ms + delay - now_ms).max(0) as u64
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(crate::store::memory(), LoginConfig::default())
    }

    fn with_free_ip(n: u32) -> Throttle {
        Throttle::new(
            crate::store::memory(),
            LoginConfig {
                ip_free_failures: n,
                ..LoginConfig::default()
            },
        )
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    /// Counts an attempt that must be allowed.
    async fn allowed(t: &Throttle, who: &Subject, ip: IpAddr, now: i64) -> Reservation {
        t.reserve(who, ip, now).await.unwrap().expect("allowed")
    }

    /// The wait of an attempt that must be refused.
    async fn refused(t: &Throttle, who: &Subject, ip: IpAddr, now: i64) -> Duration {
        t.reserve(who, ip, now).await.unwrap().expect_err("refused")
    }

    #[tokio::test]
    async fn delays_grow_with_failures_and_are_capped() {
        let t = throttle();
        let who = Subject::Account(7);
        let mut now = 1_000_000;
        let expected = [1, 3, 10, 30, 60, 300, 900, 3600, 3600, 3600];
        for secs in expected {
            allowed(&t, &who, OTHER_IP, now).await.failed();
            assert_eq!(
                refused(&t, &who, OTHER_IP, now).await,
                Duration::from_secs(secs)
            );
            assert_eq!(
                refused(&t, &who, OTHER_IP, now + secs as i64 * 1000 - 1).await,
                Duration::from_millis(1)
            );
            now += secs as i64 * 1000;
        }
        assert_eq!(t.failures(&who).await.unwrap(), 10);
    }

    #[tokio::test]
    async fn a_failure_holds_the_next_attempt_until_the_clock_passes_the_delay() {
        let (clock, hand) = clock::Clock::manual(chrono::Utc::now());
        let t = Throttle::new(
            crate::store::memory_with_clock(clock.clone()),
            LoginConfig::default(),
        );
        let who = Subject::Account(9);
        allowed(&t, &who, OTHER_IP, clock.now_ms()).await.failed();
        hand.advance(Duration::from_millis(999));
        assert_eq!(
            refused(&t, &who, OTHER_IP, clock.now_ms()).await,
            Duration::from_millis(1)
        );
        hand.advance(Duration::from_millis(1));
        allowed(&t, &who, OTHER_IP, clock.now_ms()).await.failed();
        assert_eq!(t.failures(&who).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn of_many_parallel_attempts_the_schedule_lets_one_through() {
        let t = throttle();
        let who = Subject::Account(7);
        let tasks: Vec<_> = (0..150)
            .map(|_| {
                let t = t.clone();
                let who = who.clone();
                tokio::spawn(async move { t.reserve(&who, IP, 5_000).await.unwrap() })
            })
            .collect();
        let mut through = Vec::new();
        let mut waits = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(r) => through.push(r),
                Err(w) => waits.push(w),
            }
        }
        assert_eq!(through.len(), 1);
        assert_eq!(waits.len(), 149);
        assert!(waits.iter().all(|w| *w == Duration::from_secs(1)));
        through.pop().unwrap().failed();
        // Refusals counted nothing: one failure, one second.
        assert_eq!(t.failures(&who).await.unwrap(), 1);
        assert_eq!(refused(&t, &who, IP, 5_000).await, Duration::from_secs(1));
        allowed(&t, &who, IP, 6_000).await.failed();
        assert_eq!(refused(&t, &who, IP, 6_000).await, Duration::from_secs(3));
    }

    #[tokio::test]
    async fn the_ip_lets_its_free_attempts_through_then_delays() {
        let t = with_free_ip(3);
        let mut through = 0;
        for i in 0..10 {
            // A new subject each time: only the IP can refuse.
            if let Ok(r) = t.reserve(&Subject::Account(i), IP, 0).await.unwrap() {
                r.failed();
                through += 1;
            }
        }
        assert_eq!(through, 4, "three free, then the first delay");
        assert_eq!(
            refused(&t, &Subject::Account(99), IP, 500).await,
            Duration::from_millis(500)
        );
        // Another address is untouched.
        allowed(&t, &Subject::Account(99), OTHER_IP, 500)
            .await
            .failed();
    }

    #[tokio::test]
    async fn free_attempts_stamped_out_of_order_are_never_refused() {
        // Parallel requests read the clock before they reach the store, so a
        // later stamp may arrive first; within the free attempts that is no
        // reason to wait.
        let t = with_free_ip(3);
        for (i, now) in [(0, 5_000), (1, 4_990), (2, 4_980), (3, 4_970)] {
            allowed(&t, &Subject::Account(i), IP, now).await.failed();
        }
        // The fourth failure is one past the free ones: one second from the
        // latest stamp on record, which never went back.
        assert_eq!(
            refused(&t, &Subject::Account(9), IP, 5_000).await,
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn an_ip_refusal_gives_the_subject_back_its_attempt() {
        let t = with_free_ip(0);
        allowed(&t, &Subject::Account(1), IP, 0).await.failed();
        // The IP owes a second; the new subject's attempt is refused by it and
        // leaves the subject as it was.
        let who = Subject::Account(2);
        assert_eq!(refused(&t, &who, IP, 0).await, Duration::from_secs(1));
        assert_eq!(t.failures(&who).await.unwrap(), 0);
        allowed(&t, &who, OTHER_IP, 0).await.failed();
    }

    #[tokio::test]
    async fn success_clears_the_subject_and_returns_the_ip_unit() {
        let t = with_free_ip(1);
        let who = Subject::Account(7);
        allowed(&t, &who, IP, 0).await.failed();
        let r = allowed(&t, &who, IP, 1_000).await;
        assert_eq!(r.prior_failures(), 1);
        r.succeeded().await.unwrap();
        assert_eq!(t.failures(&who).await.unwrap(), 0);
        // The IP keeps its one failure (free), not the success: no wait.
        allowed(&t, &Subject::Account(8), IP, 1_000).await.failed();
        // Now two failures: one beyond the free one.
        assert_eq!(
            refused(&t, &Subject::Account(9), IP, 1_000).await,
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn giving_back_restores_both_counts_and_times() {
        let t = with_free_ip(0);
        let who = Subject::Account(7);
        allowed(&t, &who, OTHER_IP, 0).await.failed();
        let r = allowed(&t, &who, IP, 2_000).await;
        r.give_back().await.unwrap();
        assert_eq!(t.failures(&who).await.unwrap(), 1);
        // Due one second after the first failure, as before the attempt.
        allowed(&t, &who, IP, 1_000).await.failed();
    }

    #[tokio::test]
    async fn unknown_identifiers_are_throttled_like_accounts() {
        let t = throttle();
        let who = Subject::Unknown("Nobody@Example.com".into());
        allowed(&t, &who, IP, 0).await.failed();
        let same = Subject::Unknown("nobody@example.com".into());
        assert_eq!(refused(&t, &same, IP, 0).await, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn ip_only_reservations_never_touch_a_subject() {
        let t = with_free_ip(1);
        t.reserve_ip(IP, 0).await.unwrap().unwrap().failed();
        t.reserve_ip(IP, 0).await.unwrap().unwrap().failed();
        assert_eq!(
            t.reserve_ip(IP, 0).await.unwrap().unwrap_err(),
            Duration::from_secs(1)
        );
        let ok = t.reserve_ip(IP, 1_000).await.unwrap().unwrap();
        ok.succeeded().await.unwrap();
        // The success gave its unit back: two failures on record, the last
        // one second ago, so the next may come now; failing, it earns 3 s.
        t.reserve_ip(IP, 1_000).await.unwrap().unwrap().failed();
        assert_eq!(
            t.reserve_ip(IP, 1_000).await.unwrap().unwrap_err(),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
