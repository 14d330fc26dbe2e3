//! Business time: when a code, link, session or token expires, how long a
//! throttle delay lasts, which TOTP step is current. Every service reads it
//! from one [`Clock`] handed to it at start-up, so that tests move time with a
//! [`ManualClock`] instead of waiting for it.
//!
//! Time spent on I/O (timeouts, drain periods, latency histograms) is not
//! business time and stays on tokio's and the standard library's clocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// Where the time comes from. Cloning is one reference-count increment.
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    System,
    /// Milliseconds since the Unix epoch, moved only by a [`ManualClock`].
    Manual(Arc<AtomicI64>),
    /// The system clock plus milliseconds a [`ManualClock`] added.
    Shifted(Arc<AtomicI64>),
}

impl Clock {
    /// The operating system's wall clock.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A clock that stands at `start` until its handle moves it.
    pub fn manual(start: DateTime<Utc>) -> (Self, ManualClock) {
        let ms = Arc::new(AtomicI64::new(start.timestamp_millis()));
        (Self(Source::Manual(ms.clone())), ManualClock(ms, false))
    }

    /// A clock that runs with the system clock but that its handle moves
    /// forward on top: for a whole running application under test, where
    /// requests still need time to pass between them as it does in
    /// production (stamps in milliseconds that order events), and the test
    /// jumps over delays, windows and lifetimes instead of waiting them out.
    pub fn shifted() -> (Self, ManualClock) {
        let offset = Arc::new(AtomicI64::new(0));
        (
            Self(Source::Shifted(offset.clone())),
            ManualClock(offset, true),
        )
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        from_ms(self.now_ms())
    }

    /// Whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Source::System => Utc::now().timestamp_millis(),
            Source::Manual(ms) => ms.load(Ordering::SeqCst),
            Source::Shifted(offset) => {
                Utc::now().timestamp_millis() + offset.load(Ordering::SeqCst)
            }
        }
    }

    /// Whether a test moves this clock by hand.
    pub fn is_manual(&self) -> bool {
        !matches!(self.0, Source::System)
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Source::System => f.write_str("Clock::system"),
            Source::Manual(ms) => write!(f, "Clock::manual({})", ms.load(Ordering::SeqCst)),
            Source::Shifted(o) => write!(f, "Clock::shifted({})", o.load(Ordering::SeqCst)),
        }
    }
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("a manual clock stays within chrono's range")
}

/// The hand that moves a manual or shifted [`Clock`], shared by every clone
/// of it: the clock's milliseconds, or the shift added to the system's.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>, bool);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).expect("an advance fits in i64 milliseconds");
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Puts the clock at `at`, forward or back.
    pub fn set(&self, at: DateTime<Utc>) {
        let base = if self.1 {
            Utc::now().timestamp_millis()
        } else {
            0
        };
        self.0.store(at.timestamp_millis() - base, Ordering::SeqCst);
    }

    /// Where the clock stands.
    pub fn now(&self) -> DateTime<Utc> {
        from_ms(self.now_ms())
    }

    /// Where the clock stands, in whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Where the clock stands, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let base = if self.1 {
            Utc::now().timestamp_millis()
        } else {
            0
        };
        base + self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved() {
        let start = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        let (clock, hand) = Clock::manual(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now(), start);
        hand.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_ms(), start.timestamp_millis() + 1500);
        assert_eq!(clock.now_secs(), start.timestamp() + 1);
        assert_eq!(hand.now(), clock.now());
    }

    #[test]
    fn every_clone_sees_the_move() {
        let (clock, hand) = Clock::manual(Utc.timestamp_opt(1_000, 0).unwrap());
        let other = clock.clone();
        hand.clone().advance(Duration::from_secs(30));
        assert_eq!(other.now_secs(), 1_030);
        hand.set(Utc.timestamp_opt(10, 0).unwrap());
        assert_eq!(clock.now_secs(), 10);
        assert!(clock.is_manual());
    }

    #[test]
    fn seconds_round_down_before_the_epoch_too() {
        let (clock, _) = Clock::manual(Utc.timestamp_millis_opt(-1).unwrap());
        assert_eq!(clock.now_secs(), -1);
    }

    #[test]
    fn a_shifted_clock_runs_ahead_of_the_system_by_what_was_added() {
        let (clock, hand) = Clock::shifted();
        hand.advance(Duration::from_secs(3600));
        let before = Utc::now().timestamp_millis() + 3_600_000;
        let now = clock.now_ms();
        assert!(now >= before && now <= Utc::now().timestamp_millis() + 3_600_000);
        let target = Utc::now() + chrono::TimeDelta::days(2);
        hand.set(target);
        assert!((clock.now() - target).num_milliseconds().abs() < 1000);
        assert!(clock.is_manual());
    }

    #[test]
    fn the_system_clock_follows_the_wall_clock() {
        let clock = Clock::system();
        // The clock counts whole milliseconds.
        let before = Utc::now().timestamp_millis();
        let now = clock.now().timestamp_millis();
        assert!(now >= before && now <= Utc::now().timestamp_millis());
        assert!(!clock.is_manual());
    }
}
