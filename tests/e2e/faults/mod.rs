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

/// Polls `done` every 20 ms until it holds; gives up after 10 s, after which
/// the assertions that follow say what was missing.
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

mod outages;
mod restarts;
