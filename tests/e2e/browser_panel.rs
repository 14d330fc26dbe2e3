//! The control panel in a real headless Chromium: sign-up, login, profile,
//! primary email change with both codes, password change that closes a
//! second (non-browser) session. Screenshots in `target/screenshots/`.

use guichet_tests::webdriver::Chrome;
use guichet_tests::{Person, TestApp, browser, free_port, fresh_settings, spawn_with};

/// An instance at `http://localhost:<port>`, the origin the browser uses.
async fn spawn_on_localhost() -> (TestApp, String) {
    let mut s = fresh_settings().await;
    let port = free_port();
    s.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.public_url = Some(format!("http://localhost:{port}/").parse().unwrap());
    (spawn_with(s).await, format!("http://localhost:{port}"))
}

/// The code of a mail: the line that is six digits and nothing else.
fn code_in(mail: &str) -> String {
    mail.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {mail}"))
        .to_owned()
}

#[tokio::test]
async fn a_customer_edits_the_profile_changes_email_and_password_in_chromium() {
    let (server, site) = spawn_on_localhost().await;
    let url = |p: &str| format!("{site}{p}");
    let p = Person::new("Bruno", "Browser");
    let chrome = Chrome::start("panel").await;

    // Sign-up through the form.
    chrome.goto(&url("/signup")).await;
    chrome.fill("#first_name", &p.first).await;
    chrome.fill("#last_name", &p.last).await;
    chrome.fill("#primary_email", &p.email).await;
    chrome.fill("#password", &p.password).await;
    chrome.fill("#password_confirm", &p.password).await;
    chrome.screenshot("signup").await;
    chrome
        .click("form[action='/signup'] button[type='submit']")
        .await;
    chrome.wait_for_url(&url("/signup/done")).await;
    // The handle comes by mail, never on the page.
    let (handle, code) = guichet_tests::welcome_account(&server.mailbox, &p.email).await;
    let page = chrome.source().await;
    assert!(page.contains("Check your mailbox"));
    assert!(!page.contains(&handle) && !page.contains(&code));

    // Login.
    chrome.goto(&url("/login")).await;
    chrome.fill("#identifier", &handle).await;
    chrome.fill("#password", &p.password).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for_url(&url("/account")).await;

    // Profile: a wrong phone first, then right.
    chrome.goto(&url("/account/profile")).await;
    chrome.fill("#address_line1", "2 rue Kellermann").await;
    chrome.fill("#postcode", "59100").await;
    chrome.fill("#city", "Roubaix").await;
    chrome.fill("#phone", "06 12").await;
    chrome
        .click("form[action='/account/profile'] button[type='submit']")
        .await;
    // The refusal comes back at the same address: wait for its error.
    chrome.wait_for_text("id=\"phone-error\"").await;
    chrome.screenshot("profile-error").await;
    chrome.fill("#phone", "+33 6 12 34 56 78").await;
    chrome
        .click("form[action='/account/profile'] button[type='submit']")
        .await;
    chrome.wait_for_url(&url("/account/profile?saved=1")).await;
    let page = chrome.source().await;
    assert!(page.contains("+33612345678"), "{page}");
    assert!(page.contains("Roubaix"));
    chrome.screenshot("profile-saved").await;

    // Primary email: a code from the current address, then from the new one.
    let new = format!("moved-{}", p.email);
    chrome.goto(&url("/account/email")).await;
    chrome.fill("#new_email", &new).await;
    chrome
        .click("form[action='/account/email'] button[type='submit']")
        .await;
    // The form posts back to the address it was on: wait for the new page.
    chrome
        .wait_for_text("Code received at your current address")
        .await;
    assert!(
        chrome
            .source()
            .await
            .contains("I have received my validation code")
    );
    chrome.screenshot("email-first-code").await;
    let first = code_in(&server.mail_to_with(&p.email, "Approve the change").await);
    chrome.fill("#code", &first).await;
    chrome
        .click("form[action='/account/email/confirm'] button[type='submit']")
        .await;
    chrome
        .wait_for_text("Code received at the new address")
        .await;
    let second = code_in(
        &server
            .mail_to_with(&new, "Confirm your new primary email address")
            .await,
    );
    chrome.screenshot("email-second-code").await;
    chrome.fill("#code", &second).await;
    chrome
        .click("form[action='/account/email/confirm'] button[type='submit']")
        .await;
    chrome.wait_for_url(&url("/account/email?done=")).await;
    assert!(chrome.source().await.contains(&new));
    chrome.screenshot("email-changed").await;
    server.mail_to_with(&p.email, "Security change").await;

    // A second session, outside the browser.
    let other = browser();
    assert_eq!(server.login(&other, &new, &p.password).await.status(), 303);
    assert_eq!(
        other
            .get(server.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Password change in the browser closes the other session, not this one.
    let fresh = "lanterns over the harbour";
    chrome.goto(&url("/account/password")).await;
    chrome.fill("#current_password", &p.password).await;
    chrome.fill("#password", fresh).await;
    chrome.fill("#password_confirm", fresh).await;
    chrome
        .click("form[action='/account/password'] button[type='submit']")
        .await;
    chrome.wait_for_url(&url("/account/password?done=1")).await;
    chrome.screenshot("password-changed").await;
    chrome.goto(&url("/account")).await;
    assert_eq!(
        chrome.url().await,
        url("/account"),
        "this browser stays signed in"
    );
    let r = other.get(server.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the other session is closed");
    assert_eq!(server.login(&browser(), &new, fresh).await.status(), 303);
    assert_eq!(
        server.login(&browser(), &new, &p.password).await.status(),
        401
    );
    chrome.quit().await;
}
