//! The world each test builds: a fresh database, store, outbox and clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mfa::{MemoryEphemeral, Mfa, MfaConfig, MfaError, Sealer, SmsOutbox};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sha2::{Digest, Sha256};

/// A recognisable start of time: 2026-11-22T10:00:00Z, at the start of a
/// 30-second step.
pub const T0: i64 = 1_795_341_600;

/// A sealer for tests: XOR with a keystream derived from the context, hex,
/// behind a prefix. Not encryption worth the name, but it keeps the seed out
/// of the row and binds the context, which is what the tests check.
pub struct TestSealer;

pub const SEALED_PREFIX: &str = "test-sealed:";

fn keystream(context: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut block = 0u32;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(context.as_bytes());
        h.update(block.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        block += 1;
    }
    out.truncate(len);
    out
}

impl Sealer for TestSealer {
    fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, MfaError> {
        let ks = keystream(context, plaintext.len());
        let x: Vec<u8> = plaintext.iter().zip(ks).map(|(a, b)| a ^ b).collect();
        // The context's hash rides along so that opening under another
        // context fails, as AES-GCM's associated data would.
        let tag = hex::encode(&Sha256::digest(context.as_bytes())[..4]);
        Ok(format!("{SEALED_PREFIX}{tag}:{}", hex::encode(x)))
    }

    fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, MfaError> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| MfaError::Sealing("not sealed".into()))?;
        let (tag, body) = rest
            .split_once(':')
            .ok_or_else(|| MfaError::Sealing("malformed".into()))?;
        if tag != hex::encode(&Sha256::digest(context.as_bytes())[..4]) {
            return Err(MfaError::Sealing("wrong context".into()));
        }
        let x = hex::decode(body).map_err(|_| MfaError::Sealing("malformed".into()))?;
        let ks = keystream(context, x.len());
        Ok(x.iter().zip(ks).map(|(a, b)| a ^ b).collect())
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        Self(std::env::temp_dir().join(format!("guichet-mfa-test-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn config(origin: &str, rp_id: &str) -> MfaConfig {
    MfaConfig {
        issuer: "Guichet".into(),
        rp_id: rp_id.into(),
        rp_origin: url::Url::parse(origin).unwrap(),
        rp_name: "Guichet".into(),
        sms_code_ttl: Duration::from_secs(300),
        sms_sends_per_window: 3,
        challenge_ttl: Duration::from_secs(300),
    }
}

/// A PostgreSQL database made for one test, dropped with it.
struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await; a thread with its own runtime can.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(db) = Database::connect(&admin).await {
                    let _ = db.execute_unprepared(&sql).await;
                    db.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// A fresh database: in-memory SQLite, or a new PostgreSQL database
/// (`guichet_test_…`) when `GUICHET_TEST_DATABASE_URL` names a server, as the
/// end-to-end tests do. With PostgreSQL the parallel tests really race on
/// several connections.
async fn fresh_database() -> (DatabaseConnection, Option<PgDatabase>) {
    let Some(admin) = std::env::var("GUICHET_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return (Database::connect("sqlite::memory:").await.unwrap(), None);
    };
    let name = format!("guichet_test_{}", uuid::Uuid::new_v4().simple());
    let db = Database::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    db.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    db.close().await.ok();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let mut opts = ConnectOptions::new(format!("{base}/{name}"));
    opts.max_connections(5).sqlx_logging(false);
    let pg = PgDatabase {
        admin: admin.clone(),
        name,
    };
    (Database::connect(opts).await.unwrap(), Some(pg))
}

pub struct World {
    pub mfa: Mfa,
    pub db: DatabaseConnection,
    pub outbox: TempDir,
    now: clock::ManualClock,
    /// Last field: dropped after the connections above.
    _pg: Option<PgDatabase>,
}

pub const ORIGIN: &str = "http://localhost:8080";

impl World {
    pub async fn new() -> Self {
        Self::with_config(config(ORIGIN, "localhost")).await
    }

    pub async fn with_config(cfg: MfaConfig) -> Self {
        let (db, pg) = fresh_database().await;
        Migrator::up(&db, None).await.unwrap();
        let outbox = TempDir::new();
        let (clock, now) = clock::Clock::manual(DateTime::<Utc>::from_timestamp(T0, 0).unwrap());
        let mfa = Mfa::new(
            db.clone(),
            cfg,
            Arc::new(TestSealer),
            Arc::new(MemoryEphemeral::with_clock(clock.clone())),
            Arc::new(SmsOutbox::new(outbox.0.clone())),
        )
        .unwrap()
        .with_clock(clock);
        Self {
            mfa,
            db,
            outbox,
            now,
            _pg: pg,
        }
    }

    /// The service's clock, in Unix seconds.
    pub fn now(&self) -> u64 {
        self.now.now_secs() as u64
    }

    pub fn advance(&self, secs: i64) {
        self.now.advance(Duration::from_secs(secs as u64));
    }

    /// Puts the service's clock at `unix` seconds, forward or back.
    pub fn set(&self, unix: i64) {
        self.now
            .set(DateTime::<Utc>::from_timestamp(unix, 0).unwrap());
    }

    /// Every SMS written so far, oldest first: (recipient, text).
    pub fn sms(&self) -> Vec<(String, String)> {
        read_outbox(&self.outbox.0)
    }

    /// The code in the last SMS.
    pub fn last_sms_code(&self) -> String {
        let (_, text) = self.sms().pop().expect("an SMS was sent");
        code_in(&text)
    }
}

pub fn read_outbox(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sms"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let raw = std::fs::read_to_string(f).unwrap();
            let (head, text) = raw.split_once("\n\n").expect("blank line after To:");
            let to = head.strip_prefix("To: ").expect("To: line").to_owned();
            (to, text.to_owned())
        })
        .collect()
}

/// The first run of six digits in a text.
pub fn code_in(text: &str) -> String {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5))
        .find(|&i| {
            bytes[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_owned())
        .expect("a six-digit code in the SMS")
}
