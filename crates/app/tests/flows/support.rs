//! One fresh application per test, and the people and clients it needs.

use std::sync::Arc;
use std::time::Duration;

use accounts::password::HashParams;
use accounts::service::{Accounts, Signup, SignupRequest};
use accounts::{Account, HandleSuffix, PasswordHasher, PasswordPolicy, Secret};
use app::App;
use app::config::{LoginConfig, ServerConfig, SessionConfig};
use app::ports::{BackChannel, Delivery};
use app::session::SessionData;
use clock::{Clock, ManualClock};
use migration::{Migrator, MigratorTrait};
use oauth::clients::ClientSpec;

/// Where the test client sends its codes.
pub const REDIRECT: &str = "https://rp.example/cb";

/// An application and the hand on its clock.
pub struct Fixture {
    pub app: App,
    pub clock: ManualClock,
}

/// No relying party listens in these tests; a logout token that would be
/// sent is refused, which the flows here never reach.
struct NoBackChannel;

#[async_trait::async_trait]
impl BackChannel for NoBackChannel {
    async fn post(&self, _uri: &str, _token: &str) -> Delivery {
        Delivery::Failed("no back channel in these tests".into())
    }
}

/// A fresh application: its own SQLite file, the memory state store, cheap
/// password hashes, and a clock that runs with the system's and that the
/// test moves forward.
pub async fn fixture() -> Fixture {
    let dir = tempdir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let db = sea_orm::Database::connect(&url).await.expect("SQLite");
    Migrator::up(&db, None).await.expect("migrations");
    let (clock, hand) = Clock::shifted();
    let cheap = HashParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    let accounts = Accounts::new(
        db.clone(),
        PasswordHasher::new(cheap, 2).expect("hasher"),
        PasswordPolicy { min_chars: 12 },
        HandleSuffix::default(),
    )
    .with_clock(clock.clone());
    let store = app::store::memory_with_clock(clock.clone());
    let mail = mail::MailQueue::new(
        db.clone(),
        mail::QueueSettings::new(1, Duration::from_secs(5)),
    );
    let sealer =
        oauth::KeyEncryptor::from_base64(&oauth::KeyEncryptor::generate_base64()).expect("key");
    let keys = oauth::KeyRing::new(db.clone(), sealer.clone());
    keys.ensure(clock.now()).await.expect("signing keys");
    let mfa = mfa::Mfa::new(
        db,
        mfa::MfaConfig {
            issuer: "Guichet".into(),
            rp_id: "guichet.test".into(),
            rp_origin: url::Url::parse("https://guichet.test").expect("origin"),
            rp_name: "Guichet".into(),
            sms_code_ttl: Duration::from_secs(300),
            sms_sends_per_window: 3,
            challenge_ttl: Duration::from_secs(300),
        },
        Arc::new(app::twofactor::KeySealer(sealer)),
        Arc::new(app::twofactor::StoreEphemeral(store.clone())),
        Arc::new(mfa::SmsOutbox::new(dir.join("sms-outbox"))),
    )
    .expect("two-factor");
    let config = ServerConfig {
        public_url: url::Url::parse("https://guichet.test/").expect("URL"),
        max_body_bytes: 64 * 1024,
        limits: Default::default(),
        session: SessionConfig {
            idle_timeout: Duration::from_secs(1800),
            absolute_timeout: Duration::from_secs(12 * 3600),
        },
        login: LoginConfig::default(),
        access_token_audience: None,
        code_ttl: Duration::from_secs(60),
        rates: Default::default(),
        database_timeout: Duration::from_secs(5),
    };
    let app = App::new(
        accounts,
        store,
        mail,
        config,
        keys,
        mfa,
        Arc::new(NoBackChannel),
    );
    Fixture { app, clock: hand }
}

impl Fixture {
    /// A new account holder.
    pub async fn holder(&self, first: &str) -> Account {
        let password = "correct horse battery staple";
        let created = self
            .app
            .accounts
            .signup(SignupRequest {
                first_name: first.into(),
                last_name: "Flow".into(),
                primary_email: format!("{}@example.com", first.to_lowercase()),
                password: Secret::new(password),
                password_confirm: Secret::new(password),
                country: "FR".into(),
                language: "en".into(),
                kind: "individual".into(),
                ..Default::default()
            })
            .await
            .expect("sign-up");
        let Signup::Created(outcome) = created else {
            panic!("the address was free");
        };
        outcome.account
    }

    /// A session of `account`'s holder authenticated now by password, as a
    /// login would open it.
    pub async fn session(&self, account: &Account) -> SessionData {
        let now = self.app.clock.now_secs();
        let mut data = SessionData {
            account_id: account.id,
            created_at: now,
            last_seen: now,
            auth_time: now,
            amr: vec!["pwd".into()],
            csrf: app::session::random_token(),
            ip: "192.0.2.1".into(),
            user_agent: "flows".into(),
            sid: app::session::random_token(),
            opened_ms: 0,
            user_id: None,
        };
        let id = self.app.sessions.create(&data).await.expect("session");
        data = self
            .app
            .sessions
            .load(&id, now)
            .await
            .expect("read")
            .expect("live");
        data
    }

    /// A registered client for the code flow; `first_party` skips consent.
    pub async fn client(&self, first_party: bool) -> String {
        let spec = ClientSpec {
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into(), "email".into()],
            first_party,
            ..ClientSpec::named("Flows")
        };
        let (client, _) =
            oauth::clients::create(self.app.accounts.db(), &spec, self.app.clock.now())
                .await
                .expect("client");
        client.client_id
    }

    /// A validated request of `client_id`, with `extra` parameters.
    pub async fn request(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
    ) -> oauth::authorize::PendingAuthorization {
        let mut p = serde_json::json!({
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid email",
            "state": "st-1",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        });
        for (k, v) in extra {
            p[*k] = (*v).into();
        }
        let params = serde_json::from_value(p).expect("params");
        let client = self
            .app
            .oauth
            .clients
            .get(self.app.accounts.db(), client_id)
            .await
            .expect("read")
            .expect("registered");
        oauth::authorize::validate(Some(&client), &params, self.app.clock.now_secs())
            .expect("a valid request")
    }
}

/// A query parameter of a URL the client is sent to.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "guichet-flows-{}-{}-{}",
        std::process::id(),
        clock::Clock::system().now_ms(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
