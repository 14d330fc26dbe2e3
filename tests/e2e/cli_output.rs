//! The command line prints its result, and only its result, on standard
//! output: migration chatter and every other log line go to standard error,
//! at `warn` unless a level is asked for, so `guichet … --json | jq` reads
//! nothing else.

use std::process::{Command, Output};

use crate::guichet_bin;

/// Runs `guichet args` on a fresh SQLite database of its own (created and
/// migrated by the command itself), with `env` on top.
fn run_fresh(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(guichet_bin())
        .args(args)
        // What the caller's environment may hold must not decide the level here.
        .env_remove("RUST_LOG")
        .env_remove("GUICHET__LOG__LEVEL")
        .env_remove("GUICHET__DATABASE__URL")
        .env(
            "GUICHET__SERVER__DATA_DIR",
            std::env::temp_dir().join(guichet_tests::unique("guichet-cli-out-")),
        )
        .envs(env.iter().copied())
        .output()
        .expect("run guichet");
    assert!(
        out.status.success(),
        "guichet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CREATE_CLIENT: &[&str] = &[
    "client",
    "create",
    "--name",
    "Billing",
    "--grant-type",
    "client_credentials",
    "--scope",
    "api",
    "--json",
];

#[test]
fn a_json_command_on_a_fresh_database_prints_json_alone() {
    // Quiet by default: the migrations that ran say nothing.
    let out = run_fresh(CREATE_CLIENT, &[]);
    let client: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("standard output is one JSON document");
    assert!(client["client_id"].is_string(), "{client}");
    assert!(client["client_secret"].is_string(), "{client}");
    let err = text(&out.stderr);
    assert!(!err.contains("Applying migration"), "{err}");
    assert!(!err.contains("INFO"), "{err}");

    // Asked for more, the logs come, on standard error only.
    let out = run_fresh(CREATE_CLIENT, &[("GUICHET__LOG__LEVEL", "info")]);
    let client: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(client["client_id"].is_string(), "{client}");
    let err = text(&out.stderr);
    assert!(err.contains("Applying migration"), "{err}");

    let out = run_fresh(&["client", "list", "--json"], &[("RUST_LOG", "debug")]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert_eq!(list, serde_json::json!([]));
    assert!(text(&out.stderr).contains("Applying migration"));
}

#[test]
fn migrate_prints_its_result_alone() {
    let out = run_fresh(&["migrate"], &[]);
    assert_eq!(text(&out.stdout), "migrations applied\n");
    let err = text(&out.stderr);
    assert!(
        err.trim().is_empty(),
        "nothing to say when all is well: {err}"
    );

    for (var, level) in [("RUST_LOG", "info"), ("GUICHET__LOG__LEVEL", "info")] {
        let out = run_fresh(&["migrate", "--log-format", "json"], &[(var, level)]);
        assert_eq!(text(&out.stdout), "migrations applied\n", "{var}={level}");
        let err = text(&out.stderr);
        let line = err
            .lines()
            .find(|l| l.contains("Applying migration"))
            .unwrap_or_else(|| panic!("{var}={level}: the migrations are logged: {err}"));
        let parsed: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert_eq!(parsed["level"], "INFO", "{line}");
    }
}
