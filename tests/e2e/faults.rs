//! Fault behaviour: PostgreSQL restarting under a refresh, and SIGTERM under
//! load. (Redis going away is in `sessions.rs`.)
//!
//! The PostgreSQL here is a private server started by the test from Debian's
//! binaries on a port of its own, so that stopping it disturbs nobody else.

use std::path::PathBuf;
use std::time::Duration;

use guichet_tests::{Person, bare_client, browser, free_port, fresh_settings, problem, spawn_with};
use serde_json::Value;

use crate::fleet::{Replica, fleet_settings};
use crate::oidc::{offline_app, offline_tokens, refresh};

/// A throwaway PostgreSQL cluster.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root
/// (PostgreSQL refuses to run as root).
fn pg_command(bin: &std::path::Path, tool: &str) -> std::process::Command {
    let path = bin.join(tool);
    if is_root() {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        std::process::Command::new(path)
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePostgres {
    fn create() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb");
        let data = std::env::temp_dir().join(guichet_tests::unique("guichet-pg-"));
        std::fs::create_dir_all(&data).unwrap();
        if is_root() {
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&data)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let out = pg_command(&bin, "initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = PrivatePostgres {
            bin,
            data,
            port: free_port(),
        };
        pg.start();
        pg
    }

    fn start(&self) {
        let out = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-l"])
            .arg(self.data.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.data.display()
            ))
            .arg("start")
            .output()
            .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast", "stop"])
            .output()
            .expect("pg_ctl stop");
        assert!(out.status.success(), "pg_ctl stop");
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
        std::fs::remove_dir_all(&self.data).ok();
    }
}

#[tokio::test]
async fn a_postgres_restart_under_refreshes_never_gives_two_token_sets_and_heals_itself() {
    let pg = PrivatePostgres::create();
    let mut settings = fresh_settings().await;
    guichet_tests::use_postgres(&mut settings, &pg.admin_url()).await;
    let app = spawn_with(settings).await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let p = Person::new("Panne", "Base");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let (tokens, _) = offline_tokens(&app, &web, &id, &secret).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The same refresh token, sent again and again while the database goes
    // down and comes back.
    // What the attempts saw so far: answers, and whether one was a 503.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let saw_outage = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attempts = {
        let (app_url, id, secret, rt) = (app.base.clone(), id.clone(), secret.clone(), rt.clone());
        let (answered, saw_outage) = (answered.clone(), saw_outage.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let c = bare_client();
            for _ in 0..120 {
                let r = c
                    .post(format!("{app_url}/oauth2/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
                    .send()
                    .await;
                if let Ok(r) = r {
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    statuses.push((status, body));
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if status == 503 {
                        saw_outage.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            statuses
        })
    };
    // A few answers before the outage, then the database goes.
    wait_until(|| answered.load(std::sync::atomic::Ordering::SeqCst) >= 3).await;
    pg.stop();
    let ready = bare_client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "the load balancer drains the replica");
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unavailable"
    );
    // Down until the attempts have run into it.
    wait_until(|| saw_outage.load(std::sync::atomic::Ordering::SeqCst)).await;
    pg.start();
    let statuses = attempts.await.unwrap();

    let successes: Vec<_> = statuses.iter().filter(|(s, _)| *s == 200).collect();
    assert!(
        successes.len() <= 1,
        "one refresh token gave {} token sets",
        successes.len()
    );
    for (status, body) in &statuses {
        match status {
            200 => assert!(body["access_token"].is_string()),
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            503 => assert_eq!(body["error"], "temporarily_unavailable", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        statuses.iter().any(|(s, _)| *s == 503),
        "the outage was seen as 503, not hidden: {:?}",
        statuses.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );

    // Guichet reconnects by itself: a new login and a new token set work.
    let mut healed = false;
    for _ in 0..100 {
        if app.login(&browser(), &handle, &p.password).await.status() == 303 {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healed, "logins work again without restarting Guichet");
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let (fresh, _) = offline_tokens(&app, &web, &id, &secret).await;
    let r = refresh(
        &app,
        &id,
        &secret,
        fresh["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(r.status(), 200, "refresh works after the restart");
}

#[tokio::test]
async fn sigterm_under_load_finishes_every_request_in_flight_and_exits_zero() {
    let settings = fleet_settings().await;
    let mut replica = Replica::start(&settings).await;
    let lb = guichet_tests::TestApp::elsewhere(replica.base.clone(), None, settings.clone());
    // One account per login: parallel attempts at one account wait their
    // turn (each is counted before its password is checked), and fewer than
    // the address's free attempts (`login.ip_free_failures`) in flight.
    let mut people = Vec::new();
    for _ in 0..10 {
        let p = Person::new("Arret", "Propre");
        let handle = lb.signup(&p).await;
        people.push((handle, p.password));
    }

    // Background load on keep-alive connections.
    let stop_load = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (base, stop) = (replica.base.clone(), stop_load.clone());
        load.push(tokio::spawn(async move {
            let c = bare_client();
            let mut bad = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match c.get(format!("{base}/oauth2/jwks")).send().await {
                    Ok(r) if !r.status().is_success() => bad.push(r.status().as_u16()),
                    Ok(r) => {
                        r.bytes().await.ok();
                    }
                    // Refused once the listener is closed: not in flight.
                    Err(_) => break,
                }
            }
            bad
        }));
    }

    // Ten logins, each on a connection the server already accepted, and
    // each slow (a full password hash), in flight when the signal comes.
    let mut clients = Vec::new();
    for person in people {
        let c = browser();
        let csrf = lb.csrf(&c, "/login").await;
        clients.push((c, csrf, person));
    }
    let mut logins = Vec::new();
    for (c, csrf, (handle, password)) in clients {
        let url = lb.url("/login");
        logins.push(tokio::spawn(async move {
            c.post(url)
                .form(&[
                    ("identifier", handle.as_str()),
                    ("password", password.as_str()),
                    ("csrf", csrf.as_str()),
                    ("next", ""),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        }));
    }
    // Whether a login is already being hashed or still on its way, it came
    // on a connection the server accepted, so it must be answered.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &replica.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());

    for l in logins {
        assert_eq!(
            l.await.unwrap(),
            Ok(303),
            "a login in flight at SIGTERM is finished"
        );
    }
    stop_load.store(true, std::sync::atomic::Ordering::SeqCst);
    for l in load {
        assert_eq!(l.await.unwrap(), Vec::<u16>::new(), "no failed response");
    }
    let status = tokio::task::spawn_blocking(move || replica.wait_exit(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("exits within the drain bound");
    assert!(status.success(), "exit status {status:?}");
}

/// One request during an outage: its status, `Retry-After`, content type,
/// body and how long it took.
struct Seen {
    status: u16,
    retry_after: bool,
    content_type: String,
    body: String,
    took: Duration,
}

async fn timed(req: reqwest::RequestBuilder) -> Seen {
    let started = std::time::Instant::now();
    let r = req
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let took = started.elapsed();
    Seen {
        status: r.status().as_u16(),
        retry_after: r.headers().contains_key("retry-after"),
        content_type: r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        body: r.text().await.unwrap_or_default(),
        took,
    }
}

#[tokio::test]
async fn a_database_outage_is_answered_503_at_once_in_each_callers_shape_and_heals() {
    let pg = PrivatePostgres::create();
    let mut settings = fresh_settings().await;
    guichet_tests::use_postgres(&mut settings, &pg.admin_url()).await;
    // The shipped bound, which use_postgres raises for loaded test runs.
    settings.database.acquire_timeout_ms = std::time::Duration::from_millis(400);
    let app = spawn_with(settings).await;
    let (id, secret) = app.create_client(&offline_app()).await;
    let secret = secret.unwrap();
    let p = Person::new("Panne", "Longue");
    let handle = app.signup(&p).await;
    let web = browser();
    assert_eq!(app.login(&web, &handle, &p.password).await.status(), 303);
    let (tokens, _) = offline_tokens(&app, &web, &id, &secret).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // A visitor who opened the forgotten-password form before the outage.
    let visitor = browser();
    let form = visitor
        .get(app.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = guichet_tests::hidden(&form, "csrf").unwrap();

    pg.stop();
    let c = bare_client();
    let (_, challenge) = crate::oidc::pkce();
    let authorize = crate::oidc::authorize_url(&app, &id, &challenge, &[]);
    // The authorization endpoint tells the client, at its registered
    // redirect URI (RFC 6749 §4.1.2.1), once the client is known; the first
    // request meets the outage itself and is the slowest of all.
    for attempt in ["first", "second"] {
        let started = std::time::Instant::now();
        let r = web.get(&authorize).send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(r.status(), 303, "{attempt} authorize");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with(crate::oidc::REDIRECT), "{attempt}: {to}");
        assert_eq!(
            crate::oidc::param(&to, "error").as_deref(),
            Some("temporarily_unavailable")
        );
        assert_eq!(crate::oidc::param(&to, "state").as_deref(), Some("st-123"));
        assert!(crate::oidc::param(&to, "iss").is_some());
        assert!(took < Duration::from_secs(1), "{attempt} took {took:?}");
    }
    // A client this replica never read cannot be told: a page.
    let unknown = timed(web.get(crate::oidc::authorize_url(
        &app,
        "never-seen",
        &challenge,
        &[],
    )))
    .await;
    assert_eq!(unknown.status, 503);
    assert!(unknown.content_type.contains("html"));
    let seen = vec![
        (
            "GET /login (fr)",
            timed(c.get(app.url("/login")).header("accept-language", "fr")).await,
        ),
        ("GET /account", timed(web.get(app.url("/account"))).await),
        (
            "GET /api/v1/account/profile",
            timed(web.get(app.url("/api/v1/account/profile"))).await,
        ),
        (
            "POST /api/v1/signup",
            timed(
                c.post(app.url("/api/v1/signup"))
                    .json(&Person::new("Neuf", "Client").signup_json()),
            )
            .await,
        ),
        (
            "POST /oauth2/token",
            timed(
                c.post(app.url("/oauth2/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                    ]),
            )
            .await,
        ),
        (
            "GET /oauth2/userinfo",
            timed(c.get(app.url("/oauth2/userinfo")).bearer_auth(&access)).await,
        ),
        (
            "POST /oauth2/introspect",
            timed(
                c.post(app.url("/oauth2/introspect"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", access.as_str())]),
            )
            .await,
        ),
        (
            "POST /forgot-password",
            timed(
                visitor
                    .post(app.url("/forgot-password"))
                    .form(&[("csrf", csrf.as_str()), ("identifier", handle.as_str())]),
            )
            .await,
        ),
        ("GET /readyz", timed(c.get(app.url("/readyz"))).await),
    ];
    for (what, s) in &seen {
        eprintln!("outage: {what}: {} in {:?}", s.status, s.took);
        assert_eq!(s.status, 503, "{what}: {}", s.body);
        assert!(s.took < Duration::from_secs(1), "{what} took {:?}", s.took);
        if *what != "GET /readyz" {
            assert!(s.retry_after, "{what}: Retry-After");
        }
        let json = what.contains("/api/") || what.contains("/oauth2/");
        if json || *what == "GET /readyz" {
            assert!(
                s.content_type.contains("json"),
                "{what}: {}",
                s.content_type
            );
            let v: Value = serde_json::from_str(&s.body).unwrap();
            if what.contains("/api/") {
                assert_eq!(problem(&v), "temporarily-unavailable", "{what}: {v}");
            } else if json {
                assert_eq!(v["error"], "temporarily_unavailable", "{what}: {v}");
            }
        } else {
            assert!(
                s.content_type.contains("html"),
                "{what}: {}",
                s.content_type
            );
        }
    }
    assert!(
        seen[0].1.body.contains("Temporairement indisponible"),
        "the page speaks the visitor's language: {}",
        seen[0].1.body
    );
    assert!(
        seen[7].1.body.contains("try again"),
        "no \"sent\" for a mail that cannot be queued: {}",
        seen[7].1.body
    );

    // What is held in memory is still served.
    for path in ["/oauth2/jwks", "/.well-known/openid-configuration"] {
        let s = timed(c.get(app.url(path))).await;
        assert_eq!(s.status, 200, "{path} during the outage");
        assert!(s.took < Duration::from_secs(1), "{path} took {:?}", s.took);
    }

    // Back: ready again within 5 s of PostgreSQL's return, by itself.
    pg.start();
    let back = std::time::Instant::now();
    loop {
        if c.get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not ready 5 s after"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("outage: ready again {:?} after PostgreSQL", back.elapsed());
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the session outlived the outage");
    let r = visitor
        .post(app.url("/forgot-password"))
        .form(&[("csrf", csrf.as_str()), ("identifier", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the same request, honestly sent now");
    app.mail_to_with(&p.email, "reset-password").await;
}

/// A child process killed when dropped, a failed assertion included.
struct Killed(std::process::Child);

impl Killed {
    fn kill(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn the_first_request_after_a_redis_restart_succeeds() {
    let port = free_port();
    let redis = || {
        Killed(
            std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is installed (CI installs it)"),
        )
    };
    let wait_open = || async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis never opened its port");
    };
    let mut server = redis();
    wait_open().await;
    let mut settings = fresh_settings().await;
    settings.sessions.redis_url = format!("redis://127.0.0.1:{port}");
    settings.sessions.redis_timeout_secs = std::time::Duration::from_secs(1);
    let app = spawn_with(settings).await;
    let p = Person::new("Rouge", "Redemarre");
    let handle = app.signup(&p).await;
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );

    // Restarted between two requests: the connection Guichet holds is dead,
    // and the first request afterwards still succeeds.
    server.kill();
    let mut server = redis();
    wait_open().await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303, "first login after a quiet restart");
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Down for a while, with a request meeting the outage: that one fails
    // honestly, and the first one after it is back succeeds.
    let (id, secret) = app.create_client(&offline_app()).await;
    let (tokens, _) = offline_tokens(&app, &web, &id, &secret.unwrap()).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    server.kill();
    let down = app.login(&browser(), &handle, &p.password).await;
    assert_eq!(down.status(), 503, "no login without the store");
    // JSON callers get JSON, never an HTML page, while the store is down.
    for r in [
        bare_client()
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
        web.get(app.url("/api/v1/account/profile"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let api = r.url().path().starts_with("/api/");
        let v: Value = r.json().await.expect("a JSON body");
        if api {
            assert_eq!(problem(&v), "temporarily-unavailable", "{v}");
        } else {
            assert_eq!(v["error"], "temporarily_unavailable", "{v}");
        }
    }
    let _server = redis();
    wait_open().await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303, "first login after the outage");
    let r = web.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn userinfo_and_the_json_apis_answer_every_error_in_json() {
    let app = guichet_tests::spawn_app().await;
    let c = bare_client();
    // RFC 6750 §3: a challenge in WWW-Authenticate, and the error in JSON.
    for (token, error) in [
        (None, "invalid_request"),
        (Some("not.a.jwt"), "invalid_token"),
    ] {
        let mut req = c.get(app.url("/oauth2/userinfo"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(error),
            "{challenge}"
        );
        let v: Value = r.json().await.expect("a JSON body");
        assert_eq!(v["error"], error);
    }
    // A refusal by a layer (a cross-site write) on a JSON API is JSON too.
    let r = c
        .put(app.url("/api/v1/account/password"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.expect("a JSON body");
    assert_eq!(problem(&v), "forbidden");
    assert_eq!(v["status"], 403);
    assert!(v["detail"].as_str().is_some_and(|m| !m.is_empty()));
    // The type leads to its description on the same instance.
    let doc = c
        .get(app.url(v["type"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    let text = doc.text().await.unwrap();
    assert!(text.contains(v["title"].as_str().unwrap()), "{text}");
    let r = c
        .get(app.url("/problems/no-such-problem"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // And an unknown API path.
    let r = c.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.expect("a JSON body");
    assert_eq!(problem(&v), "not-found");
}

/// Polls `done` every 20 ms until it holds; gives up after 10 s, after which
/// the assertions that follow say what was missing.
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
