//! Walks through Guichet's own pages in a real headless Chromium, clicking as
//! a customer would. Screenshots land in `target/screenshots/` (CI keeps them).

use guichet_tests::webdriver::Chrome;
use guichet_tests::{Person, TestApp, free_port, fresh_settings, spawn_with};

/// An instance at `http://localhost:<port>`: browsers only offer WebAuthn on a
/// domain name (or a secure context), and `localhost` counts as secure.
async fn spawn_on_localhost() -> (TestApp, Site) {
    let mut s = fresh_settings().await;
    let port = free_port();
    s.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.public_url = Some(format!("http://localhost:{port}/").parse().unwrap());
    (
        spawn_with(s).await,
        Site(format!("http://localhost:{port}")),
    )
}

/// The public origin the browser uses: the same one Guichet was configured
/// with, so that its cross-site checks see a same-origin browser.
struct Site(String);

impl Site {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

async fn log_in(chrome: &Chrome, app: &Site, handle: &str, password: &str) {
    chrome.goto(&app.url("/login")).await;
    chrome.fill("#identifier", handle).await;
    chrome.fill("#password", password).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
}

#[tokio::test]
async fn a_security_key_registers_and_signs_in_through_our_pages_in_chromium() {
    let (server, app) = spawn_on_localhost().await;
    let p = Person::new("Kim", "Keyholder");
    let handle = server.signup(&p).await;
    let chrome = Chrome::start("security-key").await;
    let key = chrome.add_virtual_authenticator().await;

    log_in(&chrome, &app, &handle, &p.password).await;
    chrome.wait_for_url(&app.url("/account")).await;

    // Register the key on the security page: the page's script calls
    // navigator.credentials.create, which the virtual key answers.
    chrome.goto(&app.url("/account/security/webauthn")).await;
    chrome.fill("#label", "Blue key").await;
    chrome.screenshot("register").await;
    chrome.click("#webauthn-register-button").await;
    // The first method shows the emergency codes, once.
    chrome
        .wait_for_url(&app.url("/account/security/codes"))
        .await;
    let codes = chrome.source().await;
    assert_eq!(codes.matches("<li><code>").count(), 10, "{codes}");
    chrome.screenshot("emergency-codes").await;
    let held = chrome.authenticator_credentials(&key).await;
    assert_eq!(held.len(), 1, "the key holds one credential for us");

    chrome.goto(&app.url("/account/security")).await;
    let security = chrome.source().await;
    assert!(security.contains("Blue key"), "{security}");
    assert!(security.contains("is <strong>on</strong>"), "{security}");

    // Log out, then log in: the password alone leads to the second step.
    chrome.goto(&app.url("/account")).await;
    chrome
        .click("form[action='/logout'] button[type='submit']")
        .await;
    chrome.wait_for_url(&app.url("/login")).await;
    log_in(&chrome, &app, &handle, &p.password).await;
    chrome.wait_for_url(&app.url("/login/2fa")).await;
    chrome.goto(&app.url("/account")).await;
    assert!(
        chrome.url().await.starts_with(&app.url("/login")),
        "no account page before the second factor: {}",
        chrome.url().await
    );
    chrome.goto(&app.url("/login/2fa")).await;
    chrome.screenshot("second-step").await;
    chrome.click("#webauthn-login-button").await;
    chrome.wait_for_url(&app.url("/account")).await;
    let account = chrome.source().await;
    assert!(account.contains(&handle), "{account}");
    chrome.screenshot("signed-in").await;

    // The key signed once more: its counter moved, which the server checks.
    let after = chrome.authenticator_credentials(&key).await;
    assert!(
        after[0]["signCount"].as_u64() > held[0]["signCount"].as_u64(),
        "{held:?} then {after:?}"
    );
    chrome.quit().await;
}
