//! Helpers for Guichet's end-to-end tests: spawn the real application on port 0
//! with a fresh database (SQLite by default; PostgreSQL when
//! `GUICHET_TEST_DATABASE_URL` names a server) and, when `GUICHET_TEST_REDIS_URL`
//! is set, sessions in Redis under a key prefix of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use guichet::{Application, Settings};

pub mod client;
pub mod smtp;
pub mod webdriver;
pub use client::{Client, Form, Page};
use sea_orm::{ConnectionTrait, Database};

/// The PostgreSQL server to create test databases on, if any.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("GUICHET_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The Redis to keep sessions in, if any.
pub fn redis_url() -> Option<String> {
    std::env::var("GUICHET_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A unique name for this test's resources.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The name of the operator every fresh instance knows.
pub const OPERATOR_NAME: &str = "test-operator";
/// That operator's bearer secret.
pub const OPERATOR_TOKEN: &str = "test-operator-secret-0123456789-abcdefghij";

/// Settings for a fresh, isolated instance: its own data directory, its own
/// database, its own Redis prefix, port 0.
pub async fn fresh_settings() -> Settings {
    let mut s = Settings::defaults();
    let dir = std::env::temp_dir().join(unique("guichet-test-"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    s.server.data_dir = dir;
    s.server.bind = "127.0.0.1:0".parse().expect("address");
    s.operator.bind = Some("127.0.0.1:0".parse().expect("address"));
    s.operator.tokens = vec![format!("{OPERATOR_NAME}:{OPERATOR_TOKEN}")];
    s.log.level = "warn".parse().expect("filter");
    // Every login of a test comes from a brand-new client, which the shipped
    // "risk" policy would meet with a mailed code; the tests of that code
    // (tests/e2e/recovery.rs) set the policy themselves, the others log in
    // with the password alone.
    s.login.email_code = guichet::settings::EmailCode::Never;
    // Every test client signs up from 127.0.0.1, and some tests sign up more
    // accounts than the shipped per-address limit allows in an hour (which
    // is right for real clients). Each instance counts apart, so this only
    // lifts the limit for tests; tests/e2e/limits.rs sets its own.
    s.limits.signup_per_ip.count = 100_000;
    if let Some(admin) = pg_admin_url() {
        use_postgres(&mut s, &admin).await;
    }
    if let Some(r) = redis_url() {
        use_redis(&mut s, &r);
    }
    s
}

/// Points settings at a new database of their own on the PostgreSQL server
/// that `admin` names.
pub async fn use_postgres(s: &mut Settings, admin: &str) {
    let name = unique("guichet_test_");
    let db = Database::connect(admin)
        .await
        .expect("connect to PostgreSQL");
    db.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    db.close().await.ok();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    s.database.url = Some(format!("{base}/{name}").parse().expect("PostgreSQL URL"));
    s.oauth.key_encryption_key = Some(oauth::KeyEncryptor::generate_base64().parse().expect("key"));
    s.database.max_connections = 5;
    // Many tests share a few cores and five connections each: there a wait
    // for a connection is load, not an outage. The outage tests set the
    // production bound back themselves.
    s.database.acquire_timeout_ms = Duration::from_millis(3_000);
}

/// Points settings at the Redis `url`, under a key prefix of their own.
pub fn use_redis(s: &mut Settings, url: &str) {
    s.sessions.redis_url = url.to_owned();
    s.sessions.key_prefix = unique("guichet-test:") + ":";
}

/// A running in-process instance.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// `http://127.0.0.1:<operator port>`, when the operator API is on.
    pub operator_base: Option<String>,
    /// The settings it runs with (database URL, data directory, Redis prefix).
    pub settings: Settings,
    /// The directory its mail lands in as `.eml` files: the outbox, or the
    /// SMTP sink's directory when it sends through one.
    pub mailbox: PathBuf,
    /// Moves the instance's business clock: tests jump over delays, TOTP
    /// steps and lifetimes with `app.clock.advance(..)` instead of sleeping.
    /// The clock runs with real time otherwise. An instance that runs
    /// elsewhere has a clock of its own that this one does not move.
    pub clock: clock::ManualClock,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestApp {
    /// A handle on an instance that runs elsewhere (another process, behind a
    /// proxy), so that the helpers below work against it too.
    pub fn elsewhere(base: String, operator_base: Option<String>, settings: Settings) -> Self {
        Self {
            base,
            operator_base,
            mailbox: settings.server.data_dir.join("outbox"),
            settings,
            clock: clock::Clock::shifted().1,
            task: tokio::spawn(std::future::pending()),
        }
    }
}

/// Starts an instance on fresh resources.
pub async fn spawn_app() -> TestApp {
    spawn_with(fresh_settings().await).await
}

/// Starts an instance with the given settings.
pub async fn spawn_with(settings: Settings) -> TestApp {
    let (clock, hand) = clock::Clock::shifted();
    let app = Application::build_with_clock(settings.clone(), clock)
        .await
        .expect("application starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let operator_base = app.operator_port().map(|p| format!("http://127.0.0.1:{p}"));
    let task = tokio::spawn(async move {
        app.run_until_stopped(std::future::pending()).await.ok();
    });
    TestApp {
        base,
        operator_base,
        mailbox: settings.server.data_dir.join("outbox"),
        settings,
        clock: hand,
        task,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look
/// at each `Location`).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(CLIENT_IDLE)
        .build()
        .expect("client")
}

/// How long test clients keep an idle connection: less than the server's
/// header timeout (10 s by default), which also closes idle keep-alive
/// connections. A client that reuses a connection the server is closing at
/// that moment sees it cut mid-request; real browsers retry, reqwest does
/// not, so the clients let go first, as a well-behaved proxy would.
const CLIENT_IDLE: Duration = Duration::from_secs(5);

/// A client without cookies or redirects.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(CLIENT_IDLE)
        .build()
        .expect("client")
}

/// The value of a field in a page (hidden inputs included), read with the
/// HTML parser that [`Client`] uses.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    client::field_value(html, name)
}

/// The problem type (RFC 9457) a JSON API answered, as its last path
/// segment: `"forbidden"` for `{"type": "/problems/forbidden", ...}`. Panics,
/// with the body, when the body is not a problem document.
pub fn problem(v: &serde_json::Value) -> &str {
    let t = v["type"]
        .as_str()
        .unwrap_or_else(|| panic!("not a problem: {v}"));
    assert!(
        v["title"].is_string() && v["status"].is_u64() && v["detail"].is_string(),
        "a problem has title, status and detail: {v}"
    );
    t.strip_prefix("/problems/")
        .unwrap_or_else(|| panic!("not one of ours: {v}"))
}

/// The `name=value` of a `Set-Cookie` header, by cookie name.
pub fn set_cookie<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// A person to sign up.
#[derive(Clone, Debug)]
pub struct Person {
    /// Given name.
    pub first: String,
    /// Family name.
    pub last: String,
    /// Primary email.
    pub email: String,
    /// Password.
    pub password: String,
}

impl Person {
    /// A new person with a unique email address.
    pub fn new(first: &str, last: &str) -> Self {
        Self {
            first: first.into(),
            last: last.into(),
            email: format!("{}@example.com", unique("p")),
            password: "violet staircase under rain".into(),
        }
    }

    /// The JSON body of a sign-up.
    pub fn signup_json(&self) -> serde_json::Value {
        serde_json::json!({
            "first_name": self.first,
            "last_name": self.last,
            "primary_email": self.email,
            "password": self.password,
            "password_confirm": self.password,
            "country": "FR",
            "language": "en",
            "kind": "individual",
        })
    }
}

impl TestApp {
    /// Registers a client directly in this instance's database; returns its id
    /// and secret.
    pub async fn create_client(
        &self,
        spec: &oauth::clients::ClientSpec,
    ) -> (String, Option<String>) {
        let db = guichet::app::connect_database(&self.settings, false)
            .await
            .expect("database");
        let (c, secret) = oauth::clients::create(&db, spec, self.clock.now())
            .await
            .expect("client created");
        (c.client_id, secret)
    }

    /// Waits until the mail worker has had its go at every message queued
    /// so far: none is being sent and each pending one has been tried. What
    /// it could send is then in the mailbox, and what it could not will not
    /// come before its next retry, so a test can check that something was
    /// *not* sent without a long fixed sleep. Polls every 50 ms, for at most
    /// 15 s.
    pub async fn mail_settled(&self) {
        let db = guichet::app::connect_database(&self.settings, false)
            .await
            .expect("database");
        let queue = mail::MailQueue::new(db, mail::QueueSettings::new(1, Duration::from_secs(1)));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let listed = queue.list(None, 10_000).await.expect("mail queue");
            let busy = listed.iter().any(|m| {
                m.state == mail::MailState::Sending
                    || (m.state == mail::MailState::Pending && m.attempts == 0)
            });
            if !busy {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the mail worker never settled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`Self::mail_settled`], after a short grace for notices that
    /// requests queue from a task of their own once they have answered:
    /// their INSERT is local and takes well under the grace.
    pub async fn mail_quiet(&self) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.mail_settled().await;
    }

    /// An absolute URL on this instance.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An absolute URL on this instance's operator listener.
    pub fn operator_url(&self, path: &str) -> String {
        let base = self
            .operator_base
            .as_deref()
            .expect("the operator API is on");
        format!("{base}{path}")
    }

    /// Signs a person up through the JSON API; returns the handle, read
    /// from the welcome mail (the answer never shows it).
    pub async fn signup(&self, p: &Person) -> String {
        signup_at(&self.base, &self.mailbox, &p.signup_json()).await
    }

    /// Fetches a form page and returns its anti-CSRF token.
    pub async fn csrf(&self, client: &reqwest::Client, path: &str) -> String {
        self.client_on(client)
            .get(path)
            .await
            .field("csrf")
            .expect("csrf token in page")
    }

    /// Logs in through the login form; returns the response to the POST.
    pub async fn login(
        &self,
        client: &reqwest::Client,
        identifier: &str,
        password: &str,
    ) -> reqwest::Response {
        self.client_on(client)
            .get("/login")
            .await
            .form("/login")
            .set("identifier", identifier)
            .set("password", password)
            .send()
            .await
    }

    /// The typed client over `client`'s cookies, for tests that hold a
    /// plain reqwest client.
    pub fn client_on(&self, client: &reqwest::Client) -> Client {
        Client::on(&self.base, client.clone())
    }

    /// The outbox directory of this instance.
    pub fn outbox(&self) -> PathBuf {
        self.settings.server.data_dir.join("outbox")
    }

    /// Waits (up to 10 s) for a mail to `to` in the outbox and returns it,
    /// with quoted-printable soft line breaks undone.
    pub async fn mail_to(&self, to: &str) -> String {
        wait_for_mail(&self.outbox(), to).await
    }

    /// Waits for a mail to `to` whose text contains `needle`: for an address
    /// that receives several messages (welcome, then notices).
    pub async fn mail_to_with(&self, to: &str, needle: &str) -> String {
        wait_for_mail_with(&self.outbox(), to, needle).await
    }
}

/// Posts a sign-up `body` to the instance at `base`, whose mail lands in
/// `mailbox`; checks that it was accepted and returns the new handle from
/// the welcome mail, the only place it is told.
pub async fn signup_at(base: &str, mailbox: &Path, body: &serde_json::Value) -> String {
    let email = body["primary_email"].as_str().expect("primary_email");
    // An address may have had an account before (erased since): the new
    // welcome mail is the one that was not there yet.
    let before: Vec<PathBuf> = welcomes(mailbox, email).into_iter().map(|w| w.0).collect();
    let r = bare_client()
        .post(format!("{base}/api/v1/signup"))
        .json(body)
        .send()
        .await
        .expect("sign-up request");
    assert_eq!(
        r.status(),
        202,
        "sign-up refused: {}",
        r.text().await.unwrap_or_default()
    );
    // Polled for up to 30 s: on a machine busy with builds, the worker's
    // first delivery through a real SMTP server can take several seconds.
    for _ in 0..600 {
        if let Some((_, mail)) = welcomes(mailbox, email)
            .into_iter()
            .find(|(p, _)| !before.contains(p))
        {
            return welcome_lines(&mail).0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no welcome mail to {email} in {}", mailbox.display());
}

const HANDLE_LINES: [&str; 3] = [
    "Customer handle: ",
    "Identifiant client : ",
    "Identificativo cliente: ",
];
const CODE_LINES: [&str; 3] = ["Customer code: ", "Code client : ", "Codice cliente: "];

/// The customer handle and customer code that the welcome mail to `email`
/// in `mailbox` gives (waiting up to 10 s for it).
pub async fn welcome_account(mailbox: &Path, email: &str) -> (String, String) {
    // Polled for up to 30 s: on a machine busy with builds, the worker's
    // first delivery through a real SMTP server can take several seconds.
    for _ in 0..600 {
        if let Some((_, mail)) = welcomes(mailbox, email).into_iter().next() {
            return welcome_lines(&mail);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no welcome mail to {email} in {}", mailbox.display());
}

/// The customer handle and customer code a welcome mail gives, on its
/// "Customer handle: " and "Customer code: " lines (or their French or
/// Italian twins, for an account in those languages).
pub fn welcome_lines(mail: &str) -> (String, String) {
    let line = |prefixes: &[&str]| {
        mail.lines()
            .find_map(|l| prefixes.iter().find_map(|p| l.trim().strip_prefix(p)))
            .unwrap_or_else(|| panic!("no {prefixes:?} line in the welcome mail: {mail}"))
            .trim()
            .to_owned()
    };
    (line(&HANDLE_LINES), line(&CODE_LINES))
}

/// The welcome mails to `to` in `dir` so far, with their files, oldest first.
fn welcomes(dir: &Path, to: &str) -> Vec<(PathBuf, String)> {
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let p = e.path();
                    let raw = std::fs::read_to_string(&p).ok()?;
                    let text = raw.replace("=\r\n", "").replace("=3D", "=");
                    (p.extension().is_some_and(|x| x == "eml")
                        && raw.contains(&format!("To: {to}"))
                        && HANDLE_LINES.iter().any(|n| text.contains(n)))
                    .then_some((p, text))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|(p, _)| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found
}

/// Waits for an `.eml` file addressed to `to` in `dir`.
pub async fn wait_for_mail(dir: &Path, to: &str) -> String {
    wait_for_mail_with(dir, to, "").await
}

/// Waits for an `.eml` file addressed to `to` in `dir` whose decoded text
/// contains `needle`.
pub async fn wait_for_mail_with(dir: &Path, to: &str, needle: &str) -> String {
    for _ in 0..200 {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "eml")
                    && let Ok(raw) = std::fs::read_to_string(&p)
                    && raw.contains(&format!("To: {to}"))
                {
                    let text = raw.replace("=\r\n", "").replace("=3D", "=");
                    if text.contains(needle) {
                        return text;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} with {needle:?} in {}", dir.display());
}

/// Environment variables that make a `guichet` process use these settings.
pub fn env_for(s: &Settings) -> Vec<(String, String)> {
    vec![
        (
            "GUICHET__SERVER__DATA_DIR".into(),
            s.server.data_dir.display().to_string(),
        ),
        ("GUICHET__SERVER__BIND".into(), s.server.bind.to_string()),
        (
            "GUICHET__DATABASE__URL".into(),
            s.database
                .url
                .as_ref()
                .map_or(String::new(), |u| u.as_str().to_owned()),
        ),
        (
            "GUICHET__SESSIONS__REDIS_URL".into(),
            s.sessions.redis_url.clone(),
        ),
        (
            "GUICHET__SESSIONS__REDIS_MODE".into(),
            s.sessions.redis_mode.as_str().to_owned(),
        ),
        (
            "GUICHET__SESSIONS__KEY_PREFIX".into(),
            s.sessions.key_prefix.clone(),
        ),
        ("GUICHET__LOG__LEVEL".into(), "warn".into()),
        (
            "GUICHET__LOGIN__EMAIL_CODE".into(),
            s.login.email_code.as_str().to_owned(),
        ),
        (
            "GUICHET__LIMITS__SIGNUP_PER_IP__COUNT".into(),
            s.limits.signup_per_ip.count.to_string(),
        ),
        // Port 0 unless a test names one, so processes never fight over 8081.
        (
            "GUICHET__OPERATOR__BIND".into(),
            s.operator.bind.map_or(String::new(), |a| a.to_string()),
        ),
        (
            "GUICHET__OPERATOR__TOKENS".into(),
            s.operator.tokens.join(","),
        ),
        (
            "GUICHET__OAUTH__KEY_ENCRYPTION_KEY".into(),
            s.oauth
                .key_encryption_key
                .as_ref()
                .map_or(String::new(), |k| k.expose().to_owned()),
        ),
    ]
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until `url` answers 200, up to 30 s.
pub async fn wait_ready(url: &str) {
    let c = bare_client();
    for _ in 0..300 {
        if let Ok(r) = c.get(url).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never became ready");
}
