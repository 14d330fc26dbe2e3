//! Counters and histograms for operators, in the Prometheus text format.
//!
//! Each [`AppState`](crate::AppState) owns its own registry rather than a
//! process-wide one, so that instances started side by side (the end-to-end
//! tests) count separately. Labels only ever take values from short fixed
//! lists or route templates, never from what a client sent, so that a client
//! cannot grow the number of series.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// How a password login ended.
#[derive(Clone, Copy, Debug)]
pub enum LoginOutcome {
    /// A session was opened.
    Success,
    /// Wrong identifier or password.
    Failure,
    /// Refused before the password was looked at: too many recent failures.
    Throttled,
    /// The password was right; a second factor is asked next.
    SecondFactorDue,
    /// The password was right; a code mailed to the primary address is asked next.
    EmailCodeDue,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Throttled => "throttled",
            Self::SecondFactorDue => "second_factor_due",
            Self::EmailCodeDue => "email_code_due",
        }
    }
}

/// The metrics of one instance.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    tokens: IntCounterVec,
    second_factor: IntCounterVec,
    mail_queue: IntGaugeVec,
    db_pool: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        // The names and labels are constants, so creating and registering can
        // only fail on a programming error, caught by the tests below.
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique");
            g
        };
        let http_requests = counter(
            "guichet_http_requests_total",
            "HTTP requests answered, by listener, route template and status class.",
            &["listener", "route", "status"],
        );
        let logins = counter(
            "guichet_logins_total",
            "Password login attempts, by outcome.",
            &["outcome"],
        );
        let tokens = counter(
            "guichet_tokens_issued_total",
            "Token responses issued by the token endpoint, by grant type.",
            &["grant_type"],
        );
        let second_factor = counter(
            "guichet_second_factor_checks_total",
            "Second-factor proofs checked, by method and outcome.",
            &["method", "outcome"],
        );
        let mail_queue = gauge(
            "guichet_mail_queue_messages",
            "Messages in the mail queue, by state, read when scraped.",
            &["state"],
        );
        let db_pool = gauge(
            "guichet_db_pool_connections",
            "Database pool connections of this replica, in use or idle.",
            &["state"],
        );
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "guichet_http_request_duration_seconds",
                "Time to answer an HTTP request, by listener and route template.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["listener", "route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("unique");
        Self {
            registry,
            http_requests,
            http_duration,
            logins,
            tokens,
            second_factor,
            mail_queue,
            db_pool,
        }
    }

    /// Counts one answered request. `route` is a route template (`/login`,
    /// `/admin/v1/clients/{client_id}`) or `unmatched`, never a raw path.
    pub fn observe_request(&self, listener: &str, route: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests
            .with_label_values(&[listener, route, class])
            .inc();
        self.http_duration
            .with_label_values(&[listener, route])
            .observe(seconds);
    }

    /// Counts one password login.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins.with_label_values(&[outcome.label()]).inc();
    }

    /// Counts one token response. `grant_type` is one the endpoint supports.
    pub fn token_issued(&self, grant_type: &'static str) {
        self.tokens.with_label_values(&[grant_type]).inc();
    }

    /// Counts one second-factor check: `method` is `totp`, `sms`, `recovery`
    /// or `webauthn`; `outcome` is `success`, `failure` or `error`.
    pub fn second_factor_check(&self, method: &'static str, outcome: &'static str) {
        self.second_factor
            .with_label_values(&[method, outcome])
            .inc();
    }

    /// Sets the mail queue gauges; called when scraped.
    pub fn set_mail_queue(&self, summary: &mail::QueueSummary) {
        for (state, n) in [
            ("pending", summary.pending),
            ("sending", summary.sending),
            ("sent", summary.sent),
            ("failed", summary.failed),
        ] {
            self.mail_queue
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Sets the database pool gauges; called when scraped.
    pub fn set_db_pool(&self, size: u32, idle: usize) {
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        let size = i64::from(size);
        self.db_pool
            .with_label_values(&["in_use"])
            .set((size - idle).max(0));
        self.db_pool.with_label_values(&["idle"]).set(idle);
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on invalid metric families, which
        // `new` cannot build.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let m = Metrics::new();
        m.observe_request("public", "/login", 303, 0.02);
        m.login(LoginOutcome::EmailCodeDue);
        m.token_issued("client_credentials");
        m.second_factor_check("totp", "failure");
        m.set_db_pool(5, 4);
        let text = m.render();
        for line in [
            r#"guichet_http_requests_total{listener="public",route="/login",status="3xx"} 1"#,
            r#"guichet_http_request_duration_seconds_count{listener="public",route="/login"} 1"#,
            r#"guichet_logins_total{outcome="email_code_due"} 1"#,
            r#"guichet_tokens_issued_total{grant_type="client_credentials"} 1"#,
            r#"guichet_second_factor_checks_total{method="totp",outcome="failure"} 1"#,
            r#"guichet_db_pool_connections{state="in_use"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
