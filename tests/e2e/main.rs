//! End-to-end tests: the real application over real HTTP.

mod api_tokens;
mod authz;
mod browser;
mod browser_gdpr;
mod browser_panel;
mod browser_users;
mod cli_output;
mod connections;
mod contacts;
mod faults;
mod fleet;
mod gdpr;
mod guesses;
mod i18n_pages;
mod limits;
mod login;
mod mail_queue;
mod metrics;
mod oauth;
mod oidc;
mod operator;
mod panel_profile;
mod panel_security;
mod rate_limits;
mod recovery;
mod sessions;
mod signup;
mod startup;
mod support;
mod telemetry;
mod twofactor;
mod users;

/// The `guichet` program, built by cargo alongside these tests.
pub fn guichet_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_guichet-under-test"))
}
