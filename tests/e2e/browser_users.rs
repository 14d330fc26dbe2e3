//! The holder creates a read-only local user on the users page, and that
//! user, signed in as `<customer code>/john` in a real headless Chromium, is
//! refused a write. Screenshots land in `target/screenshots/`.

use guichet_tests::webdriver::Chrome;
use guichet_tests::{Person, free_port, fresh_settings, spawn_with};

#[tokio::test]
async fn a_read_only_user_made_on_the_users_page_signs_in_and_is_refused_a_write() {
    let mut s = fresh_settings().await;
    let port = free_port();
    s.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.public_url = Some(format!("http://localhost:{port}/").parse().unwrap());
    let server = spawn_with(s).await;
    let site = |path: &str| format!("http://localhost:{port}{path}");
    let p = Person::new("Nora", "Holder");
    let handle = server.signup(&p).await;
    let chrome = Chrome::start("local-users").await;

    chrome.goto(&site("/login")).await;
    chrome.fill("#identifier", &handle).await;
    chrome.fill("#password", &p.password).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for_url(&site("/account")).await;

    // The create form's group list starts on UNPRIVILEGED (read-only).
    chrome.goto(&site("/account/users")).await;
    chrome.fill("#login", "john").await;
    chrome.fill("#email", "john@example.org").await;
    chrome.fill("#password", "copper lantern over tide").await;
    chrome.fill("#description", "reads the invoices").await;
    chrome.screenshot("create-form").await;
    chrome
        .click("form[action='/account/users'] button[type='submit']")
        .await;
    chrome
        .wait_for_url(&site("/account/users?done=created"))
        .await;
    let list = chrome.source().await;
    assert!(list.contains("reads the invoices"), "{list}");
    // The notice tells the holder how John signs in.
    let code = list
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .find(|w| w.len() == 11 && w.matches('-').count() == 2)
        .expect("customer code on the page")
        .to_owned();
    chrome.screenshot("user-created").await;

    chrome.goto(&site("/account")).await;
    chrome
        .click("form[action='/logout'] button[type='submit']")
        .await;
    chrome.wait_for_url(&site("/login")).await;

    chrome.fill("#identifier", &format!("{code}/john")).await;
    chrome.fill("#password", "copper lantern over tide").await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for_url(&site("/account")).await;

    // Reading is allowed; creating a user is not.
    chrome.goto(&site("/account/users")).await;
    let page = chrome.source().await;
    assert!(page.contains("john"), "{page}");
    chrome.fill("#login", "sneaky").await;
    chrome.fill("#email", "sneaky@example.org").await;
    chrome.fill("#password", "copper lantern over tide").await;
    chrome
        .click("form[action='/account/users'] button[type='submit']")
        .await;
    // The refusal comes back at the same address: wait for its text.
    chrome
        .wait_for_text("Only an administrator of this account may manage its users")
        .await;
    chrome.screenshot("read-only-refused").await;
    chrome.quit().await;
}
