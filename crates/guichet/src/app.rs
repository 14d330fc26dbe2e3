//! Start-up: connect the backends the configuration picks, then serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use accounts::password::HashParams;
use accounts::service::Accounts;
use accounts::{PasswordHasher, PasswordPolicy};
use mail::{MailQueue, MailTransport, OutboxTransport, QueueSettings, SmtpSettings, SmtpTransport};
use migration::{Migrator, MigratorTrait};
use oauth::{KeyEncryptor, KeyRing};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use server::{AppState, LoginConfig, ServerConfig, SessionConfig, Store};
use tokio::net::TcpListener;

use crate::settings::{ConfigError, MailTransportKind, RedisMode, Settings, SmsTransportKind};

/// Why Guichet could not start. Each message is one line naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory cannot be created.
    #[error("server.data_dir: cannot create {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database cannot be reached or migrated.
    #[error("database.url: cannot use {url}: {reason}")]
    Database {
        /// The URL without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// Redis cannot be reached.
    #[error("sessions.redis_url: cannot use {url}: {reason}")]
    Redis {
        /// The URL without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The listener cannot bind.
    #[error("server.bind: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The operator listener cannot bind.
    #[error("operator.bind: cannot listen on {addr}: {source}")]
    OperatorBind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The mail transport cannot be set up.
    #[error("mail: {0}")]
    Mail(String),
    /// Something else.
    #[error("{0}")]
    Other(String),
}

/// Hides the password of a URL for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The database URL the settings name: the given one, or SQLite in the data directory.
pub fn database_url(settings: &Settings) -> Result<String, StartError> {
    if let Some(url) = &settings.database.url {
        return Ok(url.as_str().to_owned());
    }
    let dir = &settings.server.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        dir.join("guichet.db").display()
    ))
}

/// Connects to the database, and applies migrations when `migrate` is set.
pub async fn connect_database(
    settings: &Settings,
    migrate: bool,
) -> Result<DatabaseConnection, StartError> {
    let url = database_url(settings)?;
    let db_err = |reason: String| StartError::Database {
        url: redact(&url),
        reason,
    };
    let timeout = settings.database.connect_timeout_secs;
    // Per request, a connection (connecting included) is waited for this
    // long only: a database that is down answers 503 fast, not after the
    // start-up bound. Start-up keeps trying for `connect_timeout_secs`.
    // SQLite is a file, never unreachable: there a wait means writers queued
    // behind the single write lock, which must not become 503s.
    let acquire = if url.starts_with("sqlite:") {
        timeout
    } else {
        settings.database.acquire_timeout_ms
    };
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(settings.database.max_connections)
        .min_connections(settings.database.min_connections)
        .connect_timeout(acquire)
        .acquire_timeout(acquire)
        // Statements can carry password hashes and tokens: never log them.
        .sqlx_logging(false);
    let deadline = tokio::time::Instant::now() + timeout;
    let db = loop {
        let attempt = tokio::time::timeout(timeout, Database::connect(opts.clone())).await;
        match attempt {
            Ok(Ok(db)) => break db,
            Ok(Err(e)) if tokio::time::Instant::now() >= deadline => {
                return Err(db_err(e.to_string()));
            }
            Err(_) => {
                return Err(db_err(format!("no answer within {}s", timeout.as_secs())));
            }
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    if url.starts_with("sqlite:") {
        // WAL lets readers proceed while one writer commits; the setting persists.
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .map_err(|e| db_err(e.to_string()))?;
    }
    if migrate {
        Migrator::up(&db, None)
            .await
            .map_err(|e| db_err(format!("migration failed: {e}")))?;
    }
    Ok(db)
}

/// The accounts service the settings describe.
pub fn accounts_service(
    settings: &Settings,
    db: DatabaseConnection,
) -> Result<Accounts, StartError> {
    let p = &settings.password;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = if p.max_concurrent_hashes == 0 {
        cores
    } else {
        p.max_concurrent_hashes
    };
    let hasher = PasswordHasher::new(
        HashParams {
            memory_kib: p.argon2_memory_kib,
            iterations: p.argon2_iterations,
            parallelism: p.argon2_parallelism,
        },
        max,
    )
    .map_err(|e| StartError::Other(format!("password: {e}")))?;
    Ok(Accounts::new(
        db,
        hasher,
        PasswordPolicy {
            min_chars: p.min_length,
        },
        settings.accounts.handle_suffix.clone(),
    ))
}

/// The mail transport the settings pick.
pub fn mail_transport(settings: &Settings) -> Result<Arc<dyn MailTransport>, StartError> {
    let m = &settings.mail;
    match m.transport {
        MailTransportKind::Smtp => {
            let s = &m.smtp;
            let t = SmtpTransport::new(
                m.from.as_str(),
                SmtpSettings {
                    host: s.host.clone(),
                    port: s.port,
                    tls: s.tls.mode(),
                    username: (!s.username.is_empty()).then(|| s.username.clone()),
                    password: (!s.password.is_empty()).then(|| s.password.clone()),
                    timeout: s.timeout_secs,
                },
            )
            .map_err(|e| StartError::Mail(e.to_string()))?;
            Ok(Arc::new(t))
        }
        MailTransportKind::Outbox => {
            let dir = settings.server.data_dir.join("outbox");
            let t = OutboxTransport::new(m.from.as_str(), dir)
                .map_err(|e| StartError::Mail(e.to_string()))?;
            Ok(Arc::new(t))
        }
    }
}

/// The mail queue in the database. One send is bounded a little beyond the
/// SMTP timeout, so that the transport's own, more precise error normally wins.
pub fn mail_queue(settings: &Settings, db: DatabaseConnection) -> MailQueue {
    let send_timeout = settings
        .mail
        .smtp
        .timeout_secs
        .saturating_add(Duration::from_secs(5));
    MailQueue::new(
        db,
        QueueSettings::new(settings.mail.max_attempts, send_timeout),
    )
}

/// The key that seals signing keys at rest: the configured one, or with the
/// embedded SQLite default a key file created once in the data directory.
pub fn key_encryptor(settings: &Settings) -> Result<KeyEncryptor, StartError> {
    if let Some(configured) = &settings.oauth.key_encryption_key {
        return KeyEncryptor::from_base64(configured.expose())
            .map_err(|e| StartError::Other(format!("oauth.key_encryption_key: {e}")));
    }
    let dir = &settings.server.data_dir;
    let path = dir.join("signing-keys.secret");
    let io_err = |e: std::io::Error| {
        StartError::Other(format!("oauth.key_encryption_key: {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let encoded = match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let fresh = KeyEncryptor::generate_base64();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&path) {
                Ok(mut f) => {
                    std::io::Write::write_all(&mut f, fresh.as_bytes()).map_err(io_err)?;
                    fresh
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::read_to_string(&path)
                        .map_err(io_err)?
                        .trim()
                        .to_owned()
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        Err(e) => return Err(io_err(e)),
    };
    KeyEncryptor::from_base64(&encoded)
        .map_err(|e| StartError::Other(format!("{}: {e}", path.display())))
}

/// The signing keys, with one key per algorithm created on first start.
pub async fn key_ring(
    settings: &Settings,
    db: DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<KeyRing, StartError> {
    // Five seconds: a key rotated through one replica is served by every other
    // within that time, for one small query per replica every five seconds.
    let ring =
        KeyRing::new(db, key_encryptor(settings)?).with_refresh_interval(Duration::from_secs(5));
    ring.ensure(now)
        .await
        .map_err(|e| StartError::Other(format!("signing keys: {e}")))?;
    Ok(ring)
}

/// The session store the settings pick.
pub async fn session_store(settings: &Settings) -> Result<Store, StartError> {
    let s = &settings.sessions;
    if s.redis_url.is_empty() {
        return Ok(Store::memory());
    }
    let mode = match s.redis_mode {
        RedisMode::Cluster => server::session::store::RedisMode::Cluster,
        RedisMode::Standalone => server::session::store::RedisMode::Standalone,
    };
    Store::redis(mode, &s.redis_url, &s.key_prefix, s.redis_timeout_secs)
        .await
        .map_err(|e| StartError::Redis {
            url: redact(&s.redis_url),
            reason: e.0,
        })
}

/// A built application, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Where the mail worker sends what the queue holds.
    mailer: Arc<dyn MailTransport>,
    addr: SocketAddr,
    grace: Duration,
    operator: Option<OperatorListener>,
}

/// Two-factor authentication: WebAuthn bound to the public URL's host and
/// origin, TOTP secrets sealed with the key-encryption key, short-lived state in
/// the session store, SMS through the configured transport.
pub fn two_factor(
    settings: &Settings,
    public_url: &url::Url,
    db: DatabaseConnection,
    store: server::Store,
) -> Result<mfa::Mfa, StartError> {
    let rp_id = public_url
        .host_str()
        .ok_or_else(|| StartError::Other("server.public_url: no host".into()))?
        .to_owned();
    let origin = url::Url::parse(&public_url.origin().ascii_serialization())
        .map_err(|e| StartError::Other(format!("server.public_url: {e}")))?;
    let sms = &settings.mfa.sms;
    let transport: Arc<dyn mfa::SmsTransport> = match (sms.transport, &sms.gateway_url) {
        (SmsTransportKind::Http, Some(url)) => Arc::new(server::sms_gateway::HttpSmsGateway::new(
            url.url().clone(),
            (!sms.gateway_token.is_empty()).then(|| sms.gateway_token.clone()),
            sms.timeout_secs,
        )),
        (SmsTransportKind::Http, None) => {
            return Err(StartError::Other(
                "mfa.sms.gateway_url: required when mfa.sms.transport = \"http\"".into(),
            ));
        }
        (SmsTransportKind::Outbox, _) => Arc::new(mfa::SmsOutbox::new(
            settings.server.data_dir.join("sms-outbox"),
        )),
    };
    let cfg = mfa::MfaConfig {
        issuer: settings.mfa.issuer.as_str().to_owned(),
        rp_id,
        rp_origin: origin,
        rp_name: settings.mfa.issuer.as_str().to_owned(),
        sms_code_ttl: Duration::from_secs(300),
        sms_sends_per_window: 3,
        challenge_ttl: Duration::from_secs(300),
    };
    mfa::Mfa::new(
        db,
        cfg,
        Arc::new(app::twofactor::KeySealer(key_encryptor(settings)?)),
        Arc::new(app::twofactor::StoreEphemeral(store.into())),
        transport,
    )
    .map_err(|e| StartError::Other(format!("two-factor setup: {e}")))
}

/// The operator API's own listener and who may use it.
struct OperatorListener {
    listener: TcpListener,
    addr: SocketAddr,
    operators: Vec<server::admin::Operator>,
}

/// The proxies in front, whose `X-Forwarded-For` is believed and whose one
/// address is not held to the per-client connection cap.
fn trusted_proxies(settings: &Settings) -> Vec<app::config::IpNet> {
    settings.login.trusted_proxies.clone()
}

/// Binds `addr` (the first address it resolves to) with a listen queue of
/// `backlog` connections.
async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        let socket = if candidate.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std's and tokio's own bind do: a restart must not wait for
        // the previous process's connections in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket.bind(candidate) {
            Ok(()) => return socket.listen(backlog),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "resolves to no address")
    }))
}

/// Binds the operator listener when `operator.bind` is set.
async fn bind_operator(settings: &Settings) -> Result<Option<OperatorListener>, StartError> {
    let Some(bind) = settings.operator.bind else {
        return Ok(None);
    };
    let operators = settings.operator.operators()?;
    let bind = &bind.to_string();
    let bind_err = |source| StartError::OperatorBind {
        addr: bind.to_owned(),
        source,
    };
    let listener = listen(bind, settings.server.listen_backlog)
        .await
        .map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    if operators.is_empty() {
        tracing::warn!(%addr, "operator.tokens is empty: the operator API refuses every request");
    }
    Ok(Some(OperatorListener {
        listener,
        addr,
        operators,
    }))
}

impl Application {
    /// Validates the settings, connects every backend, binds the listener.
    /// Fails with one clear error naming the setting at fault.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        Self::build_with_clock(settings, clock::Clock::system()).await
    }

    /// Like [`Self::build`], with every service reading business time
    /// (expiry, delays, TOTP steps) from `clock`: tests move it.
    pub async fn build_with_clock(
        settings: Settings,
        clock: clock::Clock,
    ) -> Result<Self, StartError> {
        settings.validate()?;
        let db = connect_database(&settings, settings.database.run_migrations).await?;
        let store = session_store(&settings).await?.with_clock(clock.clone());
        let mailer = mail_transport(&settings)?;
        let keys = key_ring(&settings, db.clone(), clock.now())
            .await?
            .with_clock(clock.clone());
        let accounts = accounts_service(&settings, db.clone())?.with_clock(clock.clone());
        let bind = settings.server.bind.to_string();
        let listener = listen(&bind, settings.server.listen_backlog)
            .await
            .map_err(|source| StartError::Bind {
                addr: bind.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: bind.clone(),
            source,
        })?;
        let operator = bind_operator(&settings).await?;
        let public_url = match &settings.server.public_url {
            Some(u) => u.url().clone(),
            None => url::Url::parse(&format!("http://{addr}/"))
                .map_err(|e| StartError::Other(format!("server.public_url: {e}")))?,
        };
        let config = ServerConfig {
            public_url,
            max_body_bytes: settings.server.max_body_bytes,
            limits: server::RequestLimits {
                max_header_bytes: settings.server.max_header_bytes,
                max_form_fields: settings.server.max_form_fields,
                header_read_timeout: settings.server.header_timeout_secs,
                request_timeout: settings.server.request_timeout_secs,
                connections: server::ConnectionLimits {
                    keepalive_timeout: settings.server.keepalive_timeout_secs,
                    h2_keepalive_interval: settings.server.h2_keepalive_interval_secs,
                    h2_keepalive_timeout: settings.server.h2_keepalive_timeout_secs,
                    max_connections: settings.server.max_connections,
                    max_connections_per_ip: settings.server.max_connections_per_ip,
                    per_ip_exempt: trusted_proxies(&settings),
                    shutdown_drain: settings.server.shutdown_drain_ms,
                },
            },
            session: SessionConfig {
                idle_timeout: settings.sessions.idle_timeout_secs,
                absolute_timeout: settings.sessions.absolute_timeout_secs,
            },
            login: LoginConfig {
                failure_delays: settings.login.failure_delays_secs.clone(),
                ip_free_failures: settings.login.ip_free_failures,
                trusted_proxies: trusted_proxies(&settings),
                recent_auth: settings.login.recent_auth_secs,
                email_code: settings.login.email_code.policy(),
            },
            access_token_audience: settings
                .oauth
                .access_token_audience
                .as_ref()
                .map(|a| a.as_str().to_owned()),
            code_ttl: settings.oauth.code_ttl_secs,
            rates: settings.limits.rates(),
            database_timeout: settings.database.acquire_timeout_ms,
        };
        let mail = mail_queue(&settings, db.clone()).with_clock(clock.clone());
        let mfa = two_factor(&settings, &config.public_url, db, store.clone())?.with_clock(clock);
        let state = AppState::new(accounts, store, mail, config, keys, mfa);
        Ok(Self {
            listener,
            state,
            mailer,
            addr,
            grace: settings.server.shutdown_grace_secs,
            operator,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port of the operator API's listener, when it has one.
    pub fn operator_port(&self) -> Option<u16> {
        self.operator.as_ref().map(|o| o.addr.port())
    }

    /// The address of the operator API's listener, when it has one.
    pub fn operator_addr(&self) -> Option<SocketAddr> {
        self.operator.as_ref().map(|o| o.addr)
    }

    /// Serves both listeners until `shutdown` completes, then each stops
    /// accepting and lets requests in flight finish for at most the grace
    /// period. If either listener fails, both stop. The mail worker and the
    /// housekeeping sweeps run alongside; the mail worker stops once both listeners have, so that mail queued by
    /// the last requests is still sent; what it has not sent stays queued for
    /// the next start or another replica.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_mail, mut mail_stopped) = tokio::sync::watch::channel(false);
        let mut chores_stopped = stop_mail.subscribe();
        let queue = self.state.mail.clone();
        let worker = queue.run(self.mailer.clone(), async move {
            // An error means the sender is gone, which only happens after it sent.
            let _ = mail_stopped.wait_for(|stop| *stop).await;
        });
        let chores = app::housekeeping::run(self.state.app.clone(), async move {
            let _ = chores_stopped.wait_for(|stop| *stop).await;
        });
        let serving = async move {
            let served = self.serve(shutdown).await;
            let _ = stop_mail.send(true);
            served
        };
        tokio::join!(serving, worker, chores).0
    }

    /// Serves both listeners, as [`Self::run_until_stopped`] describes.
    async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Some(op) = self.operator else {
            return server::serve(self.listener, self.state, shutdown, self.grace).await;
        };
        tracing::info!(addr = %op.addr, "operator API listening");
        // One signal, two listeners: the watch channel tells both.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            // An error means the sender is gone, which only happens after it sent.
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            Ok(())
        };
        let limits = self.state.config.limits.clone();
        let admin = server::admin::admin_router(self.state.clone(), op.operators);
        let public = server::serve(
            self.listener,
            self.state,
            stopped(stop_rx.clone()),
            self.grace,
        );
        let operator =
            server::serve_router(op.listener, admin, &limits, stopped(stop_rx), self.grace);
        tokio::try_join!(signal, public, operator).map(|_| ())
    }
}
