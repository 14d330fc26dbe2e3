//! Fault behaviour: PostgreSQL restarting under a refresh, and SIGTERM under
//! load. (Redis going away is in `sessions.rs`.)
//!
//! The PostgreSQL here is a private server started by the test from Debian's
//! binaries on a port of its own, so that stopping it disturbs nobody else.

use std::path::PathBuf;
use std::time::Duration;

use guichet_tests::{Person, bare_client, browser, free_port, fresh_settings, spawn_with};
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
    let attempts = {
        let (app_url, id, secret, rt) = (app.base.clone(), id.clone(), secret.clone(), rt.clone());
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
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop();
    let ready = bare_client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "the load balancer drains the replica");
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unavailable"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    for _ in 0..50 {
        if app.login(&browser(), &handle, &p.password).await.status() == 303 {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    tokio::time::sleep(Duration::from_millis(150)).await;
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
