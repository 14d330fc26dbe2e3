//! The binary: bad configuration and unreachable backends fail fast and clearly;
//! operator commands; health probes.

use std::process::Command;

use crate::guichet_bin;
use guichet_tests::{Person, bare_client, env_for, fresh_settings, spawn_app};

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(guichet_bin())
        .args(args)
        .envs(env.iter().copied())
        .env(
            "GUICHET__SERVER__DATA_DIR",
            std::env::temp_dir().join(guichet_tests::unique("guichet-cli-")),
        )
        .env("GUICHET__SERVER__BIND", "127.0.0.1:0")
        .output()
        .expect("run guichet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unreachable_database_is_named_and_exits_non_zero() {
    let (code, _, err) = run(
        &["serve"],
        &[
            (
                "GUICHET__DATABASE__URL",
                "postgres://guichet:secret-pw@127.0.0.1:1/guichet",
            ),
            ("GUICHET__DATABASE__CONNECT_TIMEOUT_SECS", "2"),
            (
                "GUICHET__OAUTH__KEY_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("database.url"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(
        !err.contains("secret-pw"),
        "the password is never printed: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
}

#[test]
fn an_unreachable_redis_is_named_and_exits_non_zero() {
    let (code, _, err) = run(
        &["serve"],
        &[
            ("GUICHET__SESSIONS__REDIS_URL", "redis://127.0.0.1:1"),
            ("GUICHET__SESSIONS__REDIS_TIMEOUT_SECS", "1"),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("sessions.redis_url"), "{err}");
}

#[test]
fn bad_configuration_values_are_named_and_exit_2() {
    for (key, value, named) in [
        (
            "GUICHET__SERVER__PUBLIC_URL",
            "ftp://example.com",
            "server.public_url",
        ),
        ("GUICHET__SERVER__BIND", "not an address", "server.bind"),
        ("GUICHET__PASSWORD__MIN_LENGTH", "4", "password.min_length"),
        (
            "GUICHET__PASSWORD__ARGON2_MEMORY_KIB",
            "4096",
            "password.argon2_memory_kib",
        ),
        (
            "GUICHET__MAIL__TRANSPORT",
            "carrier-pigeon",
            "mail.transport",
        ),
        (
            "GUICHET__SESSIONS__IDLE_TIMEOUT_SECS",
            "many",
            "idle_timeout_secs",
        ),
        (
            "GUICHET__ACCOUNTS__HANDLE_SUFFIX",
            "OVH!",
            "accounts.handle_suffix",
        ),
        (
            "GUICHET__OAUTH__KEY_ENCRYPTION_KEY",
            "too-short",
            "oauth.key_encryption_key",
        ),
        (
            "GUICHET__DATABASE__URL",
            "postgres://db.internal/guichet",
            "oauth.key_encryption_key",
        ),
    ] {
        let out = Command::new(guichet_bin())
            .arg("serve")
            .env(key, value)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {err}");
        assert!(err.contains(named), "{key}={value}: {err}");
    }
}

#[test]
fn an_unknown_key_or_missing_file_is_refused() {
    let dir = std::env::temp_dir().join(guichet_tests::unique("guichet-cfg-"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("guichet.toml");
    std::fs::write(&file, "[database]\nurll = \"postgres://x\"\n").unwrap();
    let out = Command::new(guichet_bin())
        .args(["--config", file.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("urll"));

    let out = Command::new(guichet_bin())
        .arg("serve")
        .env("GUICHET_CONFIG", dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[tokio::test]
async fn operators_create_show_disable_and_enable_accounts() {
    let settings = fresh_settings().await;
    let env = env_for(&settings);
    let migrate = Command::new(guichet_bin())
        .arg("migrate")
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let p = Person::new("Olive", "Operator");
    let mut child = Command::new(guichet_bin())
        .args([
            "account",
            "create",
            "--first-name",
            "Olive",
            "--last-name",
            "Operator",
            "--email",
            &p.email,
            "--json",
        ])
        .envs(env.clone())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{}", p.password).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let handle = created["handle"].as_str().unwrap().to_owned();
    assert!(handle.starts_with("oo"));
    assert!(
        created.get("password_hash").is_none(),
        "no hash in operator output"
    );

    for (cmd, status) in [
        ("show", "active"),
        ("disable", "disabled"),
        ("enable", "active"),
    ] {
        let target = if cmd == "show" {
            p.email.to_uppercase()
        } else {
            handle.to_uppercase()
        };
        let out = Command::new(guichet_bin())
            .args(["account", cmd, &target, "--json"])
            .envs(env.clone())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["handle"], handle.as_str());
        assert_eq!(v["status"], status, "{cmd}");
    }

    let out = Command::new(guichet_bin())
        .args(["account", "show", "nobody@example.com"])
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such account"));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let c = bare_client();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["session_store"], "ok");
}

#[tokio::test]
async fn logs_are_structured_and_never_hold_passwords_cookies_or_tokens() {
    let settings = fresh_settings().await;
    let port = guichet_tests::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(guichet_bin())
        .args(["serve", "--log-format", "json"])
        .envs(env_for(&settings))
        .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GUICHET__LOG__LEVEL", "debug")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    guichet_tests::wait_ready(&format!("{base}/healthz")).await;

    let p = Person::new("Log", "Reader");
    let handle = guichet_tests::signup_at(
        &base,
        &settings.server.data_dir.join("outbox"),
        &p.signup_json(),
    )
    .await;
    let mail =
        guichet_tests::wait_for_mail(&settings.server.data_dir.join("outbox"), &p.email).await;
    let start = mail.find("token=").unwrap() + 6;
    let token: String = mail[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let web = guichet_tests::browser();
    let login = guichet_tests::Client::on(&base, web.clone())
        .get("/login")
        .await
        .form("/login");
    let csrf = login
        .get("csrf")
        .expect("the login form's token")
        .to_owned();
    let wrong = "a wrong password for the log test";
    // The instance is another process on the real clock: the right password
    // is tried again every 100 ms while the delay the wrong one earned runs
    // (a refused attempt counts nothing).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for password in [wrong, p.password.as_str()] {
        loop {
            let r = login
                .clone()
                .fill(&[("identifier", &handle), ("password", password)])
                .send()
                .await;
            if r.status() != 429 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let r = web.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("login succeeded") && logs.contains("login failed"),
        "{logs}"
    );
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "UTC timestamps: {line}"
        );
    }
    for secret in [p.password.as_str(), wrong, token.as_str(), csrf.as_str()] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}
