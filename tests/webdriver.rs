//! A small W3C WebDriver client for browser tests: Debian's `chromedriver`
//! driving a real headless `chromium`. Only the commands the tests use, plus
//! the WebAuthn extension commands (virtual authenticators) of the WebAuthn
//! Level 2 specification, which ChromeDriver implements.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser at a time per test binary. The suite runs its tests in
/// parallel on a two-core machine, and four Chromiums starting at once beside a
/// hundred test servers made a browser test miss a wait in CI. Taking turns
/// costs a few seconds of the run and leaves each browser the CPU it needs.
static TURN: Semaphore = Semaphore::const_new(1);

/// How long a wait for an element, an address or a text may take before the
/// test fails with what the browser showed.
const PATIENCE: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// One headless Chromium, through its own chromedriver process.
pub struct Chrome {
    http: reqwest::Client,
    session: String,
    driver: tokio::process::Child,
    profile: PathBuf,
    shots: PathBuf,
    test: String,
    _turn: SemaphorePermit<'static>,
}

/// Where screenshots go: `$GUICHET_SCREENSHOTS`, else `target/screenshots`
/// beside the workspace, so that CI can keep them as artefacts.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("GUICHET_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("screenshots")
        })
}

impl Chrome {
    /// Starts chromedriver on a free port and opens a headless session. `test`
    /// names the screenshots this browser takes.
    pub async fn start(test: &str) -> Chrome {
        let turn = TURN
            .acquire()
            .await
            .expect("the browser turn is never closed");
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chrome_bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = crate::free_port();
        let driver = tokio::process::Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {driver_bin} ({e}): apt-get install chromium chromium-driver")
            });
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let ready = poll_until(
            async || match http.get(format!("{base}/status")).send().await {
                Ok(r) if r.status().is_success() => "ready".to_owned(),
                Ok(r) => r.status().to_string(),
                Err(e) => e.to_string(),
            },
            |s| s == "ready",
        )
        .await;
        if let Err(last) = ready {
            panic!("{driver_bin} on port {port} never became ready: {last}");
        }
        let profile = std::env::temp_dir().join(format!("guichet-chrome-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome_bin,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-quic",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--window-size=1024,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Chrome {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            profile,
            shots: screenshot_dir(),
            test: test.to_owned(),
            _turn: turn,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("chromedriver answers");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {v}"
        );
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The element matching a CSS selector, waiting up to [`PATIENCE`] for it.
    async fn element(&self, css: &str) -> String {
        for _ in 0..PATIENCE.as_millis() / POLL.as_millis() {
            let url = format!("{}/element", self.session);
            let r = self
                .http
                .post(&url)
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("chromedriver answers");
            if r.status().is_success() {
                let v: Value = r.json().await.unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "no element {css} on {}:\n{}",
            self.url().await,
            self.source().await
        );
    }

    /// Types `text` into the field matching `css`, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.post(&format!("/element/{e}/clear"), json!({})).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    /// The current page's HTML, as the browser holds it now.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The address the browser is at.
    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to [`PATIENCE`] for the browser to reach an address starting with
    /// `prefix` (after a script's navigation, say), and returns it.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        match poll_until(async || self.url().await, |u| u.starts_with(prefix)).await {
            Ok(u) => u,
            Err(u) => panic!(
                "the browser stayed at {u} instead of {prefix}:\n{}",
                self.source().await
            ),
        }
    }

    /// Waits up to [`PATIENCE`] for the page to show `text` (after a form posted back
    /// to the same address, where the address cannot tell the new page from
    /// the old), and returns the page's source.
    pub async fn wait_for_text(&self, text: &str) -> String {
        match poll_until(async || self.source().await, |p| p.contains(text)).await {
            Ok(page) => page,
            Err(page) => panic!("the page never showed {text:?}:\n{page}"),
        }
    }

    /// Saves a PNG of the page as `<test>-<name>.png` in [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::create_dir_all(&self.shots).unwrap();
        let path = self.shots.join(format!("{}-{name}.png", self.test));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Adds a virtual CTAP2 USB security key that says yes to every request,
    /// as a person touching their key would; returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let v = self
            .post(
                "/webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "usb",
                    "hasResidentKey": false,
                    "hasUserVerification": true,
                    "isUserConsenting": true,
                    "isUserVerified": true,
                }),
            )
            .await;
        v.as_str().unwrap().to_owned()
    }

    /// The credentials a virtual authenticator holds, with their sign counts.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let v = self
            .get(&format!(
                "/webauthn/authenticator/{authenticator}/credentials"
            ))
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Lets the browser save downloads into `dir` without asking (a DevTools
    /// command, which ChromeDriver relays).
    pub async fn allow_downloads(&self, dir: &Path) {
        self.post(
            "/goog/cdp/execute",
            json!({
                "cmd": "Browser.setDownloadBehavior",
                "params": { "behavior": "allow", "downloadPath": dir.to_string_lossy() },
            }),
        )
        .await;
    }

    /// Ends the session and the browser.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // A panicking test never reaches `quit`: end the browser processes that
        // use this profile, so that none outlives the test run.
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(self.profile.as_os_str())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Reads every [`POLL`], for up to [`PATIENCE`], until what is read satisfies `ok`;
/// gives what was read last, as `Err` if it never did.
async fn poll_until(
    read: impl AsyncFn() -> String,
    ok: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..PATIENCE.as_millis() / POLL.as_millis() {
        last = read().await;
        if ok(&last) {
            return Ok(last);
        }
        tokio::time::sleep(POLL).await;
    }
    Err(last)
}
