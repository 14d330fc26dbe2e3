//! Three Guichet processes on one PostgreSQL and one Redis behind a
//! round-robin proxy: whatever replica a request lands on, the customer and
//! the relying party see one identity provider.
//!
//! This test always runs on PostgreSQL and Redis, since a fleet cannot share
//! SQLite or process memory: the servers named by the usual variables, or the
//! local ones `.ci/run` starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use guichet_tests::{
    OPERATOR_TOKEN, Person, TestApp, bare_client, env_for, free_port, fresh_settings, hidden,
    pg_admin_url, redis_url, use_postgres, use_redis, wait_ready,
};
use serde_json::Value;

use crate::guichet_bin;
use crate::oidc::{REDIRECT, authorize_url, follow_to_client, param, pkce, redeem, web_app};

const LOCAL_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS: &str = "redis://127.0.0.1:6379";

/// A `guichet serve` process, stopped when dropped.
pub(crate) struct Replica {
    child: std::process::Child,
    /// Its public base URL.
    pub base: String,
    /// Its operator base URL.
    pub operator: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Replica {
    /// Starts a replica on free ports and waits until it is ready.
    pub(crate) async fn start(settings: &guichet::Settings) -> Replica {
        let port = free_port();
        let op = free_port();
        let child = std::process::Command::new(guichet_bin())
            .arg("serve")
            .envs(env_for(settings))
            .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("GUICHET__OPERATOR__BIND", format!("127.0.0.1:{op}"))
            .env(
                "GUICHET__SERVER__PUBLIC_URL",
                settings
                    .server
                    .public_url
                    .as_ref()
                    .map_or("", |u| u.as_str()),
            )
            .spawn()
            .expect("start guichet");
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{base}/readyz")).await;
        Replica {
            child,
            base,
            operator: format!("http://127.0.0.1:{op}"),
        }
    }

    /// The process id, for signals.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end, up to `within`.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let end = std::time::Instant::now() + within;
        while std::time::Instant::now() < end {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Settings for a fleet: one fresh PostgreSQL database and one Redis prefix.
pub(crate) async fn fleet_settings() -> guichet::Settings {
    let mut s = fresh_settings().await;
    if !s.database.url.as_ref().is_some_and(|u| u.is_postgres()) {
        use_postgres(&mut s, &pg_admin_url().unwrap_or_else(|| LOCAL_PG.into())).await;
    }
    if s.sessions.redis_url.is_empty() {
        use_redis(&mut s, &redis_url().unwrap_or_else(|| LOCAL_REDIS.into()));
    }
    s
}

/// A TCP proxy that hands each new connection to the next backend in turn,
/// counting how many each one got.
struct RoundRobin {
    base: String,
    served: Arc<Vec<AtomicUsize>>,
}

impl RoundRobin {
    async fn start_on(port: u16, backends: Vec<String>) -> RoundRobin {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let addrs: Vec<String> = backends
            .iter()
            .map(|b| b.trim_start_matches("http://").to_owned())
            .collect();
        let counts = served.clone();
        tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let i = next % addrs.len();
                next += 1;
                counts[i].fetch_add(1, Ordering::SeqCst);
                let addr = addrs[i].clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&addr).await {
                        tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                            .await
                            .ok();
                    }
                });
            }
        });
        RoundRobin { base, served }
    }

    fn counts(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect()
    }
}

/// A browser that opens a new connection for every request, so that each one
/// goes to the next replica behind the proxy.
fn roaming_browser() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::CONNECTION,
        reqwest::header::HeaderValue::from_static("close"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GET `/account` on one replica with a copy of the browser's session cookie.
async fn account_status(base: &str, cookie: &str) -> u16 {
    bare_client()
        .get(format!("{base}/account"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn jwks_kids(base: &str) -> Vec<String> {
    let jwks: Value = bare_client()
        .get(format!("{base}/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn three_replicas_behind_a_round_robin_proxy_act_as_one() {
    let mut settings = fleet_settings().await;
    // The proxy's port is known only once it listens; the issuer must be the
    // address clients use, so it is reserved first.
    let proxy_port = free_port();
    settings.server.public_url = Some(format!("http://127.0.0.1:{proxy_port}").parse().unwrap());
    // One after the other: the first applies the migrations and makes the keys.
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(&settings).await);
    }
    let proxy = RoundRobin::start_on(
        proxy_port,
        replicas.iter().map(|r| r.base.clone()).collect(),
    )
    .await;
    let lb = TestApp::elsewhere(proxy.base.clone(), None, settings.clone());

    // Sign-up lands on one replica, the login form and its POST on others.
    let p = Person::new("Flotte", "Partagée");
    let handle = lb.signup(&p).await;
    let web = roaming_browser();
    let login = lb.login(&web, &handle, &p.password).await;
    assert_eq!(login.status(), 303, "login through the proxy");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("guichet_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("session cookie");
    for r in &replicas {
        assert_eq!(
            account_status(&r.base, &cookie).await,
            200,
            "the session opened through the proxy works on {}",
            r.base
        );
    }

    // The authorization code flow, its requests spread over the replicas.
    let (client_id, secret) = lb.create_client(&web_app(true)).await;
    let (verifier, challenge) = pkce();
    let loc = follow_to_client(&lb, &web, authorize_url(&lb, &client_id, &challenge, &[])).await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        param(&loc, "iss").as_deref(),
        settings.server.public_url.as_ref().map(|u| u.as_str())
    );
    let code = param(&loc, "code").expect("code");
    let tokens: Value = redeem(&lb, &client_id, &secret.clone().unwrap(), &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().expect("access token");
    for r in &replicas {
        let info: Value = bare_client()
            .get(format!("{}/oauth2/userinfo", r.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            info["email"],
            p.email.as_str(),
            "userinfo on {} accepts a token issued by another replica",
            r.base
        );
    }
    // The code was spent once for the whole fleet.
    for r in &replicas {
        let again = bare_client()
            .post(format!("{}/oauth2/token", r.base))
            .basic_auth(&client_id, secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400, "replay on {}", r.base);
    }

    // Logout on one replica ends the session on all of them (hand-built: the
    // session cookie is carried by hand from one replica to another).
    let page = bare_client()
        .get(format!("{}/account", replicas[1].base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf").expect("csrf on the account page");
    let out = bare_client()
        .post(format!("{}/logout", replicas[1].base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    for r in &replicas {
        assert_eq!(
            account_status(&r.base, &cookie).await,
            303,
            "after logout the session is dead on {}",
            r.base
        );
    }

    // A key rotated through one replica's operator API is served by all.
    let rotated: Value = bare_client()
        .post(format!("{}/admin/v1/keys/rotate", replicas[2].operator))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&serde_json::json!({"alg": "ES256", "publish_ahead_secs": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = rotated["keys"][0]["kid"]
        .as_str()
        .expect("new kid")
        .to_owned();
    for r in &replicas {
        let mut seen = false;
        for _ in 0..450 {
            if jwks_kids(&r.base).await.contains(&kid) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "{} publishes the key rotated elsewhere", r.base);
    }

    let counts = proxy.counts();
    assert!(
        counts.iter().all(|&c| c >= 1),
        "every replica took part: {counts:?}"
    );
}
