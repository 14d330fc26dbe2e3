//! Hostile configuration: generated TOML (anything at all, or the real keys
//! with values of every type and size) is refused with a message naming
//! what is wrong, or accepted as valid settings, never a panic.
//! `scripts/bench-fuzz.sh` runs this with `PROPTEST_CASES=1000000`.

use guichet::settings::Settings;
use proptest::prelude::*;

/// Every key of `config/default.toml`, by section.
const KEYS: &[(&str, &str)] = &[
    ("server", "bind"),
    ("server", "public_url"),
    ("server", "data_dir"),
    ("server", "max_body_bytes"),
    ("server", "max_header_bytes"),
    ("server", "max_form_fields"),
    ("server", "header_timeout_secs"),
    ("server", "request_timeout_secs"),
    ("server", "shutdown_grace_secs"),
    ("server", "keepalive_timeout_secs"),
    ("server", "h2_keepalive_interval_secs"),
    ("server", "h2_keepalive_timeout_secs"),
    ("server", "max_connections"),
    ("server", "max_connections_per_ip"),
    ("server", "listen_backlog"),
    ("server", "shutdown_drain_ms"),
    ("database", "url"),
    ("database", "max_connections"),
    ("database", "min_connections"),
    ("database", "connect_timeout_secs"),
    ("database", "acquire_timeout_ms"),
    ("database", "run_migrations"),
    ("sessions", "redis_url"),
    ("sessions", "redis_mode"),
    ("sessions", "key_prefix"),
    ("sessions", "idle_timeout_secs"),
    ("sessions", "absolute_timeout_secs"),
    ("sessions", "redis_timeout_secs"),
    ("accounts", "handle_suffix"),
    ("password", "min_length"),
    ("password", "argon2_memory_kib"),
    ("password", "argon2_iterations"),
    ("password", "argon2_parallelism"),
    ("password", "max_concurrent_hashes"),
    ("login", "failure_delays_secs"),
    ("login", "ip_free_failures"),
    ("login", "trusted_proxies"),
    ("login", "recent_auth_secs"),
    ("login", "email_code"),
    ("oauth", "key_encryption_key"),
    ("oauth", "access_token_audience"),
    ("oauth", "code_ttl_secs"),
    ("mail", "transport"),
    ("mail", "from"),
    ("mail", "max_attempts"),
    ("mail.smtp", "host"),
    ("mail.smtp", "port"),
    ("mail.smtp", "tls"),
    ("mail.smtp", "username"),
    ("mail.smtp", "password"),
    ("mail.smtp", "timeout_secs"),
    ("mfa", "issuer"),
    ("mfa.sms", "transport"),
    ("mfa.sms", "gateway_url"),
    ("mfa.sms", "gateway_token"),
    ("mfa.sms", "timeout_secs"),
    ("log", "format"),
    ("log", "level"),
    ("telemetry", "otlp_endpoint"),
    ("telemetry", "service_name"),
    ("telemetry", "sample_ratio"),
    ("operator", "bind"),
    ("operator", "tokens"),
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<String>().prop_map(|s| format!("{s:?}")),
        "\"[a-z0-9:/.\\-\\[\\]@]{0,40}\"",
        proptest::collection::vec(any::<i32>(), 0..5).prop_map(|v| format!("{v:?}")),
        proptest::collection::vec("[a-z0-9.:/]{0,12}", 0..4).prop_map(|v| format!("{v:?}")),
        Just("{ a = 1 }".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
    ]
}

fn toml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec((0..KEYS.len(), value(), any::<bool>()), 0..8).prop_map(
            |entries| {
                // One table per section, each key once: valid TOML, so that the
                // values reach the settings' own checks.
                let mut tables: std::collections::BTreeMap<
                    &str,
                    std::collections::BTreeMap<String, String>,
                > = Default::default();
                for (i, v, unknown) in entries {
                    let (section, key) = KEYS[i];
                    let key = if unknown {
                        format!("{key}_x")
                    } else {
                        key.to_owned()
                    };
                    tables.entry(section).or_default().insert(key, v);
                }
                let mut text = String::new();
                for (section, kv) in tables {
                    text.push_str(&format!("[{section}]\n"));
                    for (k, v) in kv {
                        text.push_str(&format!("{k} = {v}\n"));
                    }
                }
                text
            }
        ),
    ]
}

proptest! {
    #[test]
    fn any_configuration_is_accepted_or_refused_by_name(text in toml_text()) {
        match Settings::from_toml(&text) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn the_defaults_read_back() {
    assert!(Settings::from_toml("").is_ok());
}
