use std::path::Path;
use std::time::Duration;

use super::*;

/// The error `text` (a configuration file's contents) is refused with.
fn refusal(text: &str) -> String {
    Settings::from_toml(text).unwrap_err().to_string()
}

#[test]
fn defaults_are_valid() {
    Settings::defaults().validate().unwrap();
    assert!(!Settings::defaults().log_level_given);
}

#[test]
fn errors_name_the_key_the_value_and_what_is_expected() {
    for (text, key, value) in [
        (
            "[server]\npublic_url = \"ftp://x\"",
            "server.public_url",
            "ftp://x",
        ),
        ("[server]\nbind = \"localhost\"", "server.bind", "localhost"),
        (
            "[password]\nargon2_memory_kib = 1024",
            "password.argon2_memory_kib",
            "1024",
        ),
        (
            "[login]\ntrusted_proxies = [\"proxy.local\"]",
            "login.trusted_proxies",
            "proxy.local",
        ),
        ("[mail]\nmax_attempts = 0", "mail.max_attempts", "0"),
        ("[mail]\ntransport = \"pigeon\"", "mail.transport", "pigeon"),
        ("[mail]\nfrom = \"nobody\"", "mail.from", "nobody"),
        ("[mail.smtp]\ntls = \"ssl\"", "mail.smtp.tls", "ssl"),
        (
            "[database]\nurl = \"mysql://x\"",
            "database.url",
            "mysql://x",
        ),
        ("[log]\nformat = \"xml\"", "log.format", "xml"),
        (
            "[login]\nemail_code = \"sometimes\"",
            "login.email_code",
            "sometimes",
        ),
        (
            "[sessions]\nredis_mode = \"sentinel\"",
            "sessions.redis_mode",
            "sentinel",
        ),
        ("[mfa.sms]\ntransport = \"fax\"", "mfa.sms.transport", "fax"),
        ("[mfa]\nissuer = \"a:b\"", "mfa.issuer", "a:b"),
        (
            "[telemetry]\notlp_endpoint = \"collector\"",
            "telemetry.otlp_endpoint",
            "collector",
        ),
        (
            "[telemetry]\nsample_ratio = 1.5",
            "telemetry.sample_ratio",
            "1.5",
        ),
        (
            "[sessions]\nidle_timeout_secs = \"many\"",
            "sessions.idle_timeout_secs",
            "many",
        ),
    ] {
        let e = refusal(text);
        assert!(e.contains(key), "{text}: {e}");
        assert!(e.contains(value), "{text}: {e}");
        assert!(e.contains("expected"), "{text}: {e}");
    }
}

#[test]
fn errors_name_the_environment_variable_too() {
    let e = refusal("[server]\nmax_form_fields = 0");
    assert!(
        e.contains("server.max_form_fields (GUICHET__SERVER__MAX_FORM_FIELDS)"),
        "{e}"
    );
    assert!(e.contains("from 1 to 100000, got 0"), "{e}");
}

#[test]
fn request_limits_are_bounded() {
    for (text, key) in [
        ("max_header_bytes = 4096", "server.max_header_bytes"),
        ("max_form_fields = 0", "server.max_form_fields"),
        ("header_timeout_secs = 0", "server.header_timeout_secs"),
        ("request_timeout_secs = 0", "server.request_timeout_secs"),
        (
            "max_connections_per_ip = 20000",
            "server.max_connections_per_ip",
        ),
        ("shutdown_drain_ms = 60001", "server.shutdown_drain_ms"),
        (
            "shutdown_grace_secs = 1\nshutdown_drain_ms = 1001",
            "server.shutdown_drain_ms",
        ),
    ] {
        let e = refusal(&format!("[server]\n{text}"));
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn keys_required_by_others_are_named() {
    let e = refusal("[database]\nurl = \"postgres://db/guichet\"");
    assert!(e.contains("oauth.key_encryption_key"), "{e}");
    let e = refusal("[mfa.sms]\ntransport = \"http\"");
    assert!(e.contains("mfa.sms.gateway_url"), "{e}");
    let e = refusal("[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"\"");
    assert!(e.contains("mail.smtp.host"), "{e}");
    let e = refusal("[sessions]\nredis_mode = \"cluster\"");
    assert!(e.contains("sessions.redis_url"), "{e}");
    let e = refusal("[sessions]\nidle_timeout_secs = 600\nabsolute_timeout_secs = 300");
    assert!(e.contains("sessions.absolute_timeout_secs"), "{e}");
    let e = refusal("[database]\nmin_connections = 20\nmax_connections = 10");
    assert!(e.contains("database.max_connections"), "{e}");
}

#[test]
fn values_are_read_into_their_types() {
    let s = Settings::from_toml(
        "[server]\npublic_url = \"https://login.example.com\"\n\
         [login]\nemail_code = \"always\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
         [mail]\ntransport = \"smtp\"\n[log]\nformat = \"json\"\nlevel = \"debug\"",
    )
    .unwrap();
    assert_eq!(
        s.server.public_url.as_ref().map(PublicUrl::as_str),
        Some("https://login.example.com")
    );
    assert_eq!(s.server.header_timeout_secs, Duration::from_secs(10));
    assert_eq!(s.database.acquire_timeout_ms, Duration::from_millis(400));
    assert_eq!(s.login.email_code, EmailCode::Always);
    assert_eq!(s.login.trusted_proxies.len(), 1);
    assert_eq!(s.mail.transport, MailTransportKind::Smtp);
    assert_eq!(s.log.format, LogFormat::Json);
    assert!(s.log_level_given);
    assert!(s.database.url.is_none() && s.oauth.key_encryption_key.is_none());
}

#[test]
fn operator_tokens_are_checked_and_never_printed() {
    let secret = "s3cret-0123456789-abcdefghijklmnop";
    let mut s = Settings::defaults();
    assert!(s.operator.is_enabled());
    assert!(s.operator.tokens.is_empty());
    s.operator.tokens = vec![format!("alice:{secret}"), String::new()];
    s.validate().unwrap();
    assert_eq!(s.operator.operators().unwrap().len(), 1);
    let printed = format!("{s:?}");
    assert!(printed.contains("alice:***"), "{printed}");
    assert!(!printed.contains(secret), "{printed}");

    for (tokens, problem) in [
        (vec![secret.to_owned()], "name:secret"),
        (vec!["alice:too-short".to_owned()], "at least 32"),
        (vec![format!("al ice:{secret}")], "name"),
        (
            vec![format!("alice:{secret}"), format!("alice:{secret}-2")],
            "twice",
        ),
        (
            vec![format!("alice:{secret}"), format!("bob:{secret}")],
            "same secret",
        ),
    ] {
        let mut s = Settings::defaults();
        s.operator.tokens = tokens;
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("operator.tokens"), "{e}");
        assert!(e.contains(problem), "{e}");
        assert!(!e.contains(secret) && !e.contains("too-short"), "{e}");
    }

    let e = refusal("[operator]\nbind = \"localhost\"");
    assert!(e.contains("operator.bind"), "{e}");
    let mut s = Settings::defaults();
    s.operator.bind = Some(s.server.bind);
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("operator.bind"), "{e}");
    let s = Settings::from_toml("[operator]\nbind = \"\"").unwrap();
    assert!(!s.operator.is_enabled());
}

#[test]
fn secrets_are_never_printed() {
    let key = ::oauth::KeyEncryptor::generate_base64();
    let s = Settings::from_toml(&format!(
        "[oauth]\nkey_encryption_key = \"{key}\"\n[database]\nurl = \"postgres://u:pw-123@db/g\""
    ))
    .unwrap();
    let printed = format!("{s:?}");
    assert!(
        !printed.contains(&key) && !printed.contains("pw-123"),
        "{printed}"
    );
    let e = refusal("[oauth]\nkey_encryption_key = \"not-a-key-at-all\"");
    assert!(e.contains("oauth.key_encryption_key"), "{e}");
    assert!(!e.contains("not-a-key-at-all"), "{e}");
}

#[test]
fn code_lifetime_is_one_second_to_ten_minutes() {
    for (secs, ok) in [(0, false), (1, true), (60, true), (600, true), (601, false)] {
        match Settings::from_toml(&format!("[oauth]\ncode_ttl_secs = {secs}")) {
            Ok(_) => assert!(ok, "{secs} s accepted"),
            Err(e) => {
                assert!(!ok, "{secs} s refused: {e}");
                assert!(e.to_string().contains("oauth.code_ttl_secs"), "{e}");
            }
        }
    }
    assert_eq!(
        Settings::defaults().oauth.code_ttl_secs,
        Duration::from_secs(60)
    );
}

#[test]
fn request_limits_are_checked_and_named() {
    let s = Settings::defaults();
    assert_eq!(s.limits.rates(), app::limits::RateLimits::default());
    let e = refusal("[limits]\nsignup_per_ip = { count = 0, window_secs = 60 }");
    assert!(e.contains("limits.signup_per_ip.count"), "{e}");
    let e = refusal("[limits]\ncontact_requests_per_handle = { count = 1, window_secs = 0 }");
    assert!(
        e.contains("limits.contact_requests_per_handle.window_secs"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("guichet-lim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("limits.toml");
    std::fs::write(
        &f,
        "[limits]\nforgot_handle_per_email = { count = 2, window_secs = 60 }\n",
    )
    .unwrap();
    let s = Settings::load(Some(&f)).unwrap();
    assert_eq!(
        s.limits.rates().forgot_handle_per_email,
        app::limits::Rate::per(2, 60)
    );
    assert_eq!(
        s.limits.signup_per_ip.count, 20,
        "the other keys keep their defaults"
    );
}

#[test]
fn unknown_keys_are_refused() {
    let dir = std::env::temp_dir().join(format!("guichet-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[server]\nbnid = \"x\"\n").unwrap();
    let e = Settings::load(Some(&f)).unwrap_err().to_string();
    assert!(e.contains("bnid"), "{e}");
}

#[test]
fn the_production_example_is_valid() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/production.example.toml");
    let s = Settings::load(Some(&f)).unwrap();
    assert_eq!(
        s.server.public_url.as_ref().map(PublicUrl::as_str),
        Some("https://login.example.com")
    );
    assert_eq!(s.mail.transport, MailTransportKind::Smtp);
}
