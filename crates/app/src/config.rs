//! The server's settings, already validated by the binary that loaded them.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

/// Everything the HTTP layer needs to know about its deployment.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The URL customers reach Guichet at; links in mail are built from it, never
    /// from a request's `Host` header.
    pub public_url: Url,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The other bounds a request must stay within.
    pub limits: RequestLimits,
    /// Session lifetimes.
    pub session: SessionConfig,
    /// Login throttling.
    pub login: LoginConfig,
    /// The `aud` of access tokens; the issuer when `None`.
    pub access_token_audience: Option<String>,
    /// How long an authorization code can be redeemed.
    pub code_ttl: Duration,
    /// Request limits per client address and per target ([`crate::limits`]).
    pub rates: crate::limits::RateLimits,
    /// The longest a request waits for a database connection (and a health
    /// ping for an answer) before it is answered 503.
    pub database_timeout: Duration,
}

impl ServerConfig {
    /// Whether Guichet is served over TLS, which decides the cookie prefix and HSTS.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The public origin (`scheme://host[:port]`), for the cross-site POST check.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// The issuer identifier: the public URL without its trailing slash, so that
    /// `iss` and the discovery URL compose exactly (OIDC Discovery §4.3).
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// An absolute URL under the public URL.
    pub fn url(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path_and_query}")
    }
}

/// What one request may cost a replica besides its body: a slow or huge client
/// gets a bounded 4xx instead of holding memory or a connection.
#[derive(Clone, Debug)]
pub struct RequestLimits {
    /// Largest request line plus headers, in bytes; larger gets 431. Also the
    /// connection's read buffer, which is why it cannot go below 8 KiB.
    pub max_header_bytes: usize,
    /// Most fields a urlencoded form may have; more gets 413.
    pub max_form_fields: usize,
    /// How long a client may take to send its headers; then the connection closes.
    pub header_read_timeout: Duration,
    /// How long a request may take, body and handler included; then 408.
    pub request_timeout: Duration,
    /// What one client, and all of them, may hold open.
    pub connections: ConnectionLimits,
}

/// How long connections may stay open doing nothing, and how many may be open:
/// a client that opens connections and sends nothing cannot hoard them.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// How long a kept-alive HTTP/1 connection, or an HTTP/2 connection with no
    /// stream open, may wait for its next request before it is closed.
    pub keepalive_timeout: Duration,
    /// How often an HTTP/2 connection is pinged; one that does not answer
    /// within [`Self::h2_keepalive_timeout`] is closed.
    pub h2_keepalive_interval: Duration,
    /// How long the answer to an HTTP/2 ping may take.
    pub h2_keepalive_timeout: Duration,
    /// Most connections open at once on a listener; past it a new connection is
    /// closed as soon as it is accepted.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 client
    /// counts by its /64); past it the same.
    pub max_connections_per_ip: usize,
    /// Addresses counted against [`Self::max_connections`] only: the proxies in
    /// front, whose one address carries many clients.
    pub per_ip_exempt: Vec<IpNet>,
    /// On shutdown, how long a kept-alive HTTP/1 connection is left open for
    /// one last request (answered with `Connection: close`) before it is closed.
    pub shutdown_drain: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            keepalive_timeout: Duration::from_secs(30),
            h2_keepalive_interval: Duration::from_secs(30),
            h2_keepalive_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_ip: 256,
            per_ip_exempt: Vec::new(),
            shutdown_drain: Duration::from_secs(1),
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 * 1024,
            max_form_fields: 1000,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connections: ConnectionLimits::default(),
        }
    }
}

/// Session lifetimes, enforced on the server.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// A session unused for this long is dead.
    pub idle_timeout: Duration,
    /// A session older than this is dead, used or not.
    pub absolute_timeout: Duration,
}

/// How failed logins slow later ones.
#[derive(Clone, Debug)]
pub struct LoginConfig {
    /// The wait imposed after the 1st, 2nd, … consecutive failure; the last value
    /// repeats. Never a permanent lock, which an attacker could inflict.
    pub failure_delays: Vec<Duration>,
    /// Failures allowed from one client IP before the delays apply to it: many
    /// customers can share one address behind a NAT.
    pub ip_free_failures: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How recent an authentication must be for a security change (adding or
    /// removing a second factor, turning it off) before the password is asked again.
    pub recent_auth: Duration,
    /// When an account without two-factor must also enter a code mailed to
    /// its primary address.
    pub email_code: EmailCodePolicy,
}

/// When a login without two-factor asks for a code sent to the primary email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailCodePolicy {
    /// At every login.
    Always,
    /// From a device the account has not completed a login on, after recent
    /// failures, or while the primary address is unconfirmed.
    Risk,
    /// Never (for a deployment that relies on two-factor alone).
    Never,
}

impl EmailCodePolicy {
    /// Reads the configuration value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(Self::Always),
            "risk" => Some(Self::Risk),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            failure_delays: [1, 3, 10, 30, 60, 300, 900, 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            ip_free_failures: 20,
            trusted_proxies: Vec::new(),
            recent_auth: Duration::from_secs(300),
            email_code: EmailCodePolicy::Risk,
        }
    }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a lone address is a
/// range of one. Proxies in a cluster get addresses from a pod range that
/// changes with every restart, so trusting one must not need a fixed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    base: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Reads `addr` or `addr/prefix`; `None` for anything else, including a
    /// prefix longer than the address or host bits set beyond the prefix
    /// (`10.0.0.1/8` is a typo for either `10.0.0.1` or `10.0.0.0/8`).
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let base: IpAddr = addr.parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        let net = IpNet { base, prefix };
        (net.mask(base) == bits(base)).then_some(net)
    }

    /// Whether `ip` is in the range. An IPv4 address seen as IPv4-mapped IPv6
    /// (`::ffff:10.0.0.1`, as dual-stack listeners report it) counts as IPv4.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*ip, IpAddr::V4),
            v4 => *v4,
        };
        ip.is_ipv4() == self.base.is_ipv4() && self.mask(ip) == bits(self.base)
    }

    fn mask(&self, ip: IpAddr) -> u128 {
        let (width, value) = match ip {
            IpAddr::V4(a) => (32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (128, u128::from(a)),
        };
        if self.prefix == 0 {
            0
        } else {
            value & (u128::MAX << (width - u32::from(self.prefix))) & (u128::MAX >> (128 - width))
        }
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

#[cfg(test)]
mod ip_net_tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_hold_their_addresses_only() {
        let n = IpNet::parse("10.42.0.0/16").unwrap();
        assert!(n.contains(&ip("10.42.7.9")));
        assert!(n.contains(&ip("::ffff:10.42.0.1")));
        assert!(!n.contains(&ip("10.43.0.1")));
        assert!(!n.contains(&ip("::1")));
        let one = IpNet::parse("192.0.2.7").unwrap();
        assert!(one.contains(&ip("192.0.2.7")) && !one.contains(&ip("192.0.2.8")));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&ip("2001:db8:1::5")) && !v6.contains(&ip("2001:db9::1")));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains(&ip("203.0.113.1"))
        );
    }

    #[test]
    fn typos_are_refused() {
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "proxy.local",
            "10.0.0.0/8/8",
            "",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }
}
