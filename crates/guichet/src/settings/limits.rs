//! `[limits]`: requests per client address and per target.

use std::time::Duration;

use serde::Deserialize;

use super::parse;

/// `[limits]`: requests per client address and per target, each a
/// [`RateSection`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Sign-ups from one client address.
    pub signup_per_ip: RateSection,
    /// Sign-ups naming one primary email.
    pub signup_per_email: RateSection,
    /// Forgotten-handle requests from one client address.
    pub forgot_handle_per_ip: RateSection,
    /// Forgotten-handle requests naming one email.
    pub forgot_handle_per_email: RateSection,
    /// Contact requests from one client address.
    pub contact_requests_per_ip: RateSection,
    /// Contact requests naming one customer handle.
    pub contact_requests_per_handle: RateSection,
}

/// At most `count` requests per `window_secs`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSection {
    /// Requests allowed per window.
    #[serde(deserialize_with = "parse::within::<_, _, 1, 1000000>")]
    pub count: u32,
    /// The window's length (`window_secs`), a week at most.
    #[serde(deserialize_with = "parse::secs::<_, 1, 604800>")]
    pub window_secs: Duration,
}

impl LimitsSection {
    /// The limits as the server takes them.
    pub fn rates(&self) -> app::limits::RateLimits {
        let r = |s: RateSection| app::limits::Rate::per(s.count, s.window_secs.as_secs());
        app::limits::RateLimits {
            signup_per_ip: r(self.signup_per_ip),
            signup_per_email: r(self.signup_per_email),
            forgot_handle_per_ip: r(self.forgot_handle_per_ip),
            forgot_handle_per_email: r(self.forgot_handle_per_email),
            contact_requests_per_ip: r(self.contact_requests_per_ip),
            contact_requests_per_handle: r(self.contact_requests_per_handle),
        }
    }
}
