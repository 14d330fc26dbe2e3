//! Sessions across server restarts, and where they are kept.

use crate::guichet_bin;
use guichet_tests::{
    Person, bare_client, browser, env_for, free_port, fresh_settings, redis_url, set_cookie,
    spawn_with, wait_ready,
};

async fn start_process(settings: &guichet::Settings, port: u16) -> std::process::Child {
    let child = std::process::Command::new(guichet_bin())
        .arg("serve")
        .envs(env_for(settings))
        .env("GUICHET__SERVER__BIND", format!("127.0.0.1:{port}"))
        .spawn()
        .expect("start guichet");
    wait_ready(&format!("http://127.0.0.1:{port}/healthz")).await;
    child
}

fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    child.wait().expect("wait")
}

#[tokio::test]
async fn a_session_outlives_a_server_restart_only_with_redis() {
    let settings = fresh_settings().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let first = start_process(&settings, port).await;

    let p = Person::new("Restart", "Proof");
    let handle = guichet_tests::signup_at(
        &base,
        &settings.server.data_dir.join("outbox"),
        &p.signup_json(),
    )
    .await;
    let web = browser();
    let r = guichet_tests::Client::on(&base, web.clone())
        .get("/login")
        .await
        .form("/login")
        .fill(&[("identifier", &handle), ("password", &p.password)])
        .send()
        .await;
    assert_eq!(r.status(), 303);
    let cookie = set_cookie(&r, "guichet_session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // SIGTERM: a graceful stop exits 0.
    assert!(stop(first).success());
    let second = start_process(&settings, port).await;
    let r = bare_client()
        .get(format!("{base}/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    if redis_url().is_some() {
        assert_eq!(r.status(), 200, "the session lives in Redis and survives");
        assert!(r.text().await.unwrap().contains(&handle));
    } else {
        // The embedded default keeps sessions in memory: a restart ends them.
        assert_eq!(r.status(), 303);
    }
    assert!(stop(second).success());
}

#[tokio::test]
async fn redis_keys_carry_the_configured_prefix() {
    let Some(url) = redis_url() else {
        // Without Redis there is no key to look at; the in-memory store is covered
        // by the server crate's unit tests.
        return;
    };
    let settings = fresh_settings().await;
    let prefix = settings.sessions.key_prefix.clone();
    let app = spawn_with(settings).await;
    let p = Person::new("Key", "Prefix");
    let handle = app.signup(&p).await;
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(r.status(), 303);
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}session:"))),
        "{keys:?}"
    );
    // The cookie value never appears in a key: keys hold its SHA-256.
    let cookie = set_cookie(&r, "guichet_session").unwrap();
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(keys.iter().all(|k| !k.contains(id)));
}

fn start_redis(port: u16) -> std::process::Child {
    std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed (CI installs it)")
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("port {port} never opened");
}

#[tokio::test]
async fn redis_down_answers_503_and_recovers_without_a_restart() {
    let port = free_port();
    let mut redis = start_redis(port);
    wait_for_port(port).await;
    let mut settings = fresh_settings().await;
    settings.sessions.redis_url = format!("redis://127.0.0.1:{port}");
    settings.sessions.redis_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(settings).await;
    let p = Person::new("Outage", "Proof");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);

    redis.kill().unwrap();
    redis.wait().unwrap();
    let account = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), 503);
    assert!(
        account
            .text()
            .await
            .unwrap()
            .contains("Nothing was changed")
    );
    let r = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(
        r.status(),
        503,
        "no login, and no session, without the store"
    );
    assert!(guichet_tests::set_cookie(&r, "guichet_session").is_none());
    let ready = bare_client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["session_store"],
        "unavailable"
    );

    let mut redis = start_redis(port);
    wait_for_port(port).await;
    let mut recovered = false;
    for _ in 0..100 {
        if app.login(&browser(), &handle, &p.password).await.status() == 303 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "logins work again once Redis is back, without restarting Guichet"
    );
    redis.kill().ok();
    redis.wait().ok();
}

/// Three empty Redis Cluster masters on free ports, joined into one cluster
/// covering every slot. Killed when dropped.
struct RedisCluster {
    nodes: Vec<(u16, std::process::Child)>,
    dir: std::path::PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.nodes {
            c.kill().ok();
            c.wait().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl RedisCluster {
    async fn start() -> RedisCluster {
        let dir = std::env::temp_dir().join(guichet_tests::unique("guichet-redis-cluster-"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let child = std::process::Command::new("redis-server")
                .current_dir(&dir)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is installed (CI installs it)");
            nodes.push((port, child));
        }
        for (port, _) in &nodes {
            wait_for_port(*port).await;
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        let out = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes, dir };
        for _ in 0..100 {
            if cluster.nodes.iter().all(|(p, _)| {
                cluster
                    .cli(*p, &["cluster", "info"])
                    .contains("cluster_state:ok")
            }) {
                return cluster;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the cluster never became ready");
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys_per_node(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|(p, _)| self.cli(*p, &["dbsize"]).trim().parse().unwrap_or(0))
            .collect()
    }
}

#[tokio::test]
async fn sessions_live_in_a_redis_cluster_and_survive_a_restart() {
    let cluster = RedisCluster::start().await;
    let mut settings = fresh_settings().await;
    settings.sessions.redis_mode = guichet::settings::RedisMode::Cluster;
    // Only one seed node given: the client learns the others from it.
    settings.sessions.redis_url = format!("redis://127.0.0.1:{}", cluster.nodes[0].0);
    settings.sessions.key_prefix = guichet_tests::unique("guichet-test:") + ":";
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let first = start_process(&settings, port).await;
    let app = guichet_tests::TestApp::elsewhere(base.clone(), None, settings.clone());

    let mut cookies = Vec::new();
    for i in 0..6 {
        let p = Person::new("Grappe", &format!("Numero{i}"));
        let handle = app.signup(&p).await;
        let web = browser();
        let r = app.login(&web, &handle, &p.password).await;
        assert_eq!(r.status(), 303, "login with the sessions in a cluster");
        cookies.push((
            handle,
            set_cookie(&r, "guichet_session")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
        ));
    }
    let spread = cluster.keys_per_node();
    assert!(
        spread.iter().filter(|&&n| n > 0).count() >= 2,
        "keys are spread over the cluster's nodes: {spread:?}"
    );

    assert!(stop(first).success());
    let second = start_process(&settings, port).await;
    for (handle, cookie) in &cookies {
        let r = bare_client()
            .get(format!("{base}/account"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the session lives in the cluster");
        assert!(r.text().await.unwrap().contains(handle.as_str()));
    }
    assert!(stop(second).success());

    // Cluster mode with a URL that is no list of nodes is refused at start.
    let out = std::process::Command::new(guichet_bin())
        .arg("serve")
        .envs(env_for(&settings))
        .env("GUICHET__SESSIONS__REDIS_URL", "cluster-of-nothing")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sessions.redis_url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
