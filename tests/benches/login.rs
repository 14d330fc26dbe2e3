//! Logins per second against the machine's Argon2id limit.
//!
//! Run: `cargo bench -p guichet-tests --bench login` (release build, SQLite,
//! in-memory sessions). It first measures how many Argon2id hashes per second
//! this machine computes with Guichet's parameters on every core, then drives
//! full logins (GET the form, POST the credentials, 303 + session) over HTTP for
//! a fixed time from concurrent clients, and prints both with their ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use guichet_tests::{Person, browser, hidden, spawn_app};

const SECONDS: u64 = 10;
const CLIENTS: usize = 16;

fn argon2_rate(threads: usize, secs: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                let a = Argon2::new(
                    Algorithm::Argon2id,
                    Version::V0x13,
                    Params::new(19_456, 2, 1, None).expect("params"),
                );
                while Instant::now() < deadline {
                    let salt = SaltString::generate(&mut OsRng);
                    a.hash_password(b"violet staircase under rain", &salt)
                        .expect("hash");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    for h in handles {
        h.join().expect("thread");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash_rate = argon2_rate(cores, SECONDS);

    let app = spawn_app().await;
    let mut people = Vec::new();
    for i in 0..CLIENTS {
        let p = Person::new("Bench", &format!("User{i}"));
        let handle = app.signup(&p).await;
        people.push((handle, p.password));
    }
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let start = Instant::now();
    let tasks: Vec<_> = people
        .into_iter()
        .map(|(handle, password)| {
            let (ok, failed) = (ok.clone(), failed.clone());
            let login = app.url("/login");
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let web = browser();
                    let page = web
                        .get(&login)
                        .send()
                        .await
                        .expect("form")
                        .text()
                        .await
                        .expect("body");
                    let csrf = hidden(&page, "csrf").expect("csrf");
                    let r = web
                        .post(&login)
                        .form(&[
                            ("identifier", handle.as_str()),
                            ("password", password.as_str()),
                            ("csrf", csrf.as_str()),
                        ])
                        .send()
                        .await
                        .expect("login");
                    if r.status() == 303 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let logins = ok.load(Ordering::Relaxed) as f64 / elapsed;
    println!("cores: {cores}; clients: {CLIENTS}; duration: {SECONDS} s each");
    println!("| measure | per second |");
    println!("| --- | --- |");
    println!("| Argon2id m=19456 t=2 p=1 hashes, {cores} threads, no server | {hash_rate:.1} |");
    println!("| full logins (GET form + POST, 303 + session) | {logins:.1} |");
    println!("| logins / hash limit | {:.2} |", logins / hash_rate);
    println!("failed logins: {}", failed.load(Ordering::Relaxed));
}
