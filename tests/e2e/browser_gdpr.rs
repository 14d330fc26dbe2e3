//! "Download my data" in a real headless Chromium: the customer goes from
//! the security page to "My data", clicks the download link, and the browser
//! saves one JSON file, which it then opens. Screenshots land in
//! `target/screenshots/`.

use std::time::Duration;

use guichet_tests::webdriver::Chrome;
use guichet_tests::{Person, free_port, fresh_settings, spawn_with};
use serde_json::Value;

#[tokio::test]
async fn the_data_export_downloads_and_opens_in_chromium() {
    let mut s = fresh_settings().await;
    let port = free_port();
    s.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.public_url = Some(format!("http://localhost:{port}/").parse().unwrap());
    let site = format!("http://localhost:{port}");
    let server = spawn_with(s).await;
    let p = Person::new("Dora", "Download");
    let handle = server.signup(&p).await;

    let chrome = Chrome::start("gdpr-export").await;
    let downloads = std::env::temp_dir().join(format!("guichet-dl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&downloads).unwrap();
    chrome.allow_downloads(&downloads).await;

    chrome.goto(&format!("{site}/login")).await;
    chrome.fill("#identifier", &handle).await;
    chrome.fill("#password", &p.password).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for_url(&format!("{site}/account")).await;

    // From the security page to "My data".
    chrome.goto(&format!("{site}/account/security")).await;
    chrome.click("a[href='/account/data']").await;
    chrome.wait_for_url(&format!("{site}/account/data")).await;
    chrome.screenshot("my-data").await;
    chrome.click("#download-data").await;

    let file = downloads.join(format!("guichet-{handle}.json"));
    let mut text = String::new();
    // Up to 30 s: the download is written by the browser, in its own time.
    for _ in 0..600 {
        if let Ok(t) = std::fs::read_to_string(&file)
            && !t.is_empty()
        {
            text = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v: Value = serde_json::from_str(&text).expect("the downloaded file is JSON");
    assert_eq!(v["profile"]["handle"], handle.as_str());
    assert_eq!(v["emails"]["primary"], p.email.as_str());
    assert!(!text.contains(&p.password));

    // The browser opens the saved file.
    chrome.goto(&format!("file://{}", file.display())).await;
    let shown = chrome.source().await;
    assert!(shown.contains(&handle), "{shown}");
    chrome.screenshot("export-opened").await;
    chrome.quit().await;
    let _ = std::fs::remove_dir_all(&downloads);
}
