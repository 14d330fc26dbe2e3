//! Growing delays after failed logins, per account and per client IP.
//!
//! A failure increments counters shared by every replica; an attempt made before
//! the delay earned by the previous failures has passed is refused without
//! checking the password. Delays are capped, never a permanent lock, so an
//! attacker cannot lock a customer out for good.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::store::{Store, StoreError};
use crate::config::LoginConfig;

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
    /// A local user (by their internal id), counted apart from the holder so
    /// that a user's mistakes never delay the holder, nor the other way round.
    User(i32),
    /// Wrong second-factor codes of a local user.
    UserSecondFactor(i32),
}

impl Subject {
    fn key(&self) -> String {
        match self {
            Self::Account(id) => format!("fail:acct:{id}"),
            Self::SecondFactor(id) => format!("fail:2fa:{id}"),
            Self::EmailCode(id) => format!("fail:mailcode:{id}"),
            Self::User(id) => format!("fail:user:{id}"),
            Self::UserSecondFactor(id) => format!("fail:2fa-user:{id}"),
            Self::Unknown(s) => format!(
                "fail:id:{}",
                hex::encode(Sha256::digest(s.trim().to_lowercase().as_bytes()))
            ),
        }
    }
}

/// Counts failures and says when the next attempt may come.
#[derive(Clone)]
pub struct Throttle {
    store: Store,
    cfg: LoginConfig,
}

impl Throttle {
    /// A throttle over a store.
    pub fn new(store: Store, cfg: LoginConfig) -> Self {
        Self { store, cfg }
    }

    fn delay(&self, failures: i64, free: u32) -> Duration {
        let over = failures - i64::from(free);
        if over <= 0 || self.cfg.failure_delays.is_empty() {
            return Duration::ZERO;
        }
        let i = (over as usize - 1).min(self.cfg.failure_delays.len() - 1);
        self.cfg.failure_delays[i]
    }

    async fn wait_for(&self, key: &str, free: u32, now_ms: i64) -> Result<Duration, StoreError> {
        let Some(count) = self.store.get(key).await? else {
            return Ok(Duration::ZERO);
        };
        let count = count.parse::<i64>().unwrap_or(0);
        let last = self
            .store
            .get(&format!("{key}:at"))
            .await?
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        let until = last + self.delay(count, free).as_millis() as i64;
        Ok(Duration::from_millis((until - now_ms).max(0) as u64))
    }

    /// How long the caller must still wait before trying; zero when it may try now.
    pub async fn wait(
        &self,
        who: &Subject,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<Duration, StoreError> {
        let a = self.wait_for(&who.key(), 0, now_ms).await?;
        let b = self
            .wait_for(&format!("fail:ip:{ip}"), self.cfg.ip_free_failures, now_ms)
            .await?;
        Ok(a.max(b))
    }

    /// Records a failed attempt. Increments are atomic: fifty parallel wrong
    /// guesses count fifty.
    pub async fn failed(&self, who: &Subject, ip: IpAddr, now_ms: i64) -> Result<(), StoreError> {
        for key in [who.key(), format!("fail:ip:{ip}")] {
            self.store.incr(&key, WINDOW).await?;
            self.store
                .set(&format!("{key}:at"), &now_ms.to_string(), WINDOW)
                .await?;
        }
        Ok(())
    }

    /// How many failures are on record for `who` (within the window): a
    /// login after failures is a risky one.
    pub async fn failures(&self, who: &Subject) -> Result<i64, StoreError> {
        Ok(self
            .store
            .get(&who.key())
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// Clears an account's failures after a successful login. The IP's count is
    /// kept: logging in to one's own account must not reset an attacker's budget.
    pub async fn succeeded(&self, who: &Subject) -> Result<(), StoreError> {
        let k = who.key();
        self.store.delete(&k).await?;
        self.store.delete(&format!("{k}:at")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(Store::memory(), LoginConfig::default())
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn delays_grow_with_failures_and_are_capped() {
        let t = throttle();
        let who = Subject::Account(7);
        let mut now = 1_000_000;
        assert_eq!(t.wait(&who, IP, now).await.unwrap(), Duration::ZERO);
        let expected = [1, 3, 10, 30, 60, 300, 900, 3600, 3600, 3600];
        for secs in expected {
            t.failed(&who, IP, now).await.unwrap();
            assert_eq!(
                t.wait(&who, IP, now).await.unwrap(),
                Duration::from_secs(secs)
            );
            now += secs as i64 * 1000;
            assert_eq!(t.wait(&who, IP, now).await.unwrap(), Duration::ZERO);
        }
    }

    #[tokio::test]
    async fn success_clears_the_account_but_not_the_ip() {
        let t = Throttle::new(
            Store::memory(),
            LoginConfig {
                ip_free_failures: 1,
                ..LoginConfig::default()
            },
        );
        let who = Subject::Account(7);
        t.failed(&who, IP, 0).await.unwrap();
        t.failed(&who, IP, 0).await.unwrap();
        t.succeeded(&who).await.unwrap();
        // The IP earned one delay beyond its free failure.
        assert_eq!(
            t.wait(&Subject::Account(8), IP, 0).await.unwrap(),
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn unknown_identifiers_are_throttled_like_accounts() {
        let t = throttle();
        let who = Subject::Unknown("Nobody@Example.com".into());
        t.failed(&who, IP, 0).await.unwrap();
        let same = Subject::Unknown("nobody@example.com".into());
        assert_eq!(t.wait(&same, IP, 0).await.unwrap(), Duration::from_secs(1));
    }
}
