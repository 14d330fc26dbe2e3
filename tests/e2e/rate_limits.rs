//! Request limits per client address and per target: sign-up, the
//! forgotten-handle form and contact requests. A hundred requests at once do
//! exactly the limit's worth of work, the rest get 429 with `Retry-After`,
//! and a refusal reads the same whether or not the target exists.
//!
//! The windows here are a week long, so that a test never straddles two.

use std::path::Path;
use std::time::Duration;

use guichet::Settings;
use guichet_tests::{
    Person, TestApp, bare_client, browser, fresh_settings, hidden, problem, spawn_with,
};
use serde_json::Value;

use crate::panel_security::{api_get, logged_in, page, signed_up};

const WEEK: u64 = 604_800;
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Every test's limits: huge, but for the ones a test sets.
fn generous(s: &mut Settings) {
    for r in [
        &mut s.limits.signup_per_ip,
        &mut s.limits.signup_per_email,
        &mut s.limits.forgot_handle_per_ip,
        &mut s.limits.forgot_handle_per_email,
        &mut s.limits.contact_requests_per_ip,
        &mut s.limits.contact_requests_per_handle,
    ] {
        r.count = 100_000;
        r.window_secs = std::time::Duration::from_secs(WEEK);
    }
}

/// One answer: its status, its `Retry-After` in seconds, its body.
type Answer = (u16, Option<u64>, String);

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, r.text().await.unwrap())
}

/// Runs the futures all at once and collects their answers.
async fn at_once<F>(requests: Vec<F>) -> Vec<Answer>
where
    F: std::future::Future<Output = Answer> + Send + 'static,
{
    let tasks: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Checks that `answers` are `ok` exactly `n` times and refusals otherwise,
/// every refusal with a `Retry-After` within the window; returns a refusal.
fn exactly(answers: &[Answer], ok: u16, n: usize) -> Answer {
    let accepted = answers.iter().filter(|a| a.0 == ok).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!(
        (accepted, refused.len()),
        (n, answers.len() - n),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for r in &refused {
        let wait = r.1.expect("Retry-After on every refusal");
        assert!((1..=WEEK).contains(&wait), "{wait}");
    }
    refused[0].clone()
}

/// The mails in `mailbox` to `to` whose text holds `needle`, once `n` have
/// arrived (up to 10 s); then a little longer, so that one too many would
/// show.
async fn mails(mailbox: &Path, to: &str, needle: &str, n: usize) -> usize {
    let count = || {
        std::fs::read_dir(mailbox)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .map(|raw| raw.replace("=\r\n", "").replace("=3D", "="))
                    // Addresses are the same whatever their case: the
                    // winner of a race may have typed it in capitals.
                    .filter(|m| {
                        m.to_lowercase()
                            .contains(&format!("to: {}", to.to_lowercase()))
                            && m.contains(needle)
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    for _ in 0..200 {
        if count() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    count()
}

/// `GET /admin/v1/mail`'s count of queued messages, whatever their state.
async fn mail_total(app: &TestApp) -> u64 {
    let v: Value = bare_client()
        .get(app.operator_url("/admin/v1/mail?limit=500"))
        .bearer_auth(guichet_tests::OPERATOR_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["messages"].as_array().unwrap().len() as u64
}

#[tokio::test]
async fn a_hundred_parallel_sign_ups_from_one_address_create_exactly_the_limit() {
    let mut s = fresh_settings().await;
    generous(&mut s);
    s.limits.signup_per_ip.count = 7;
    let app = spawn_with(s).await;
    let people: Vec<Person> = (0..100).map(|_| Person::new("Rita", "Rate")).collect();
    let url = app.url("/api/v1/signup");
    let answers =
        at_once(
            people
                .iter()
                .map(|p| {
                    let (url, body) = (url.clone(), p.signup_json());
                    async move {
                        answer(bare_client().post(url).json(&body).send().await.unwrap()).await
                    }
                })
                .collect(),
        )
        .await;
    let refusal = exactly(&answers, 202, 7);
    let v: Value = serde_json::from_str(&refusal.2).unwrap();
    assert_eq!(problem(&v), "too-many-requests");
    assert!(v["detail"].as_str().unwrap().contains("Too many requests"));

    // Seven welcome mails, to the seven accepted, and no other mail at all.
    let mut welcomed = 0;
    for (p, a) in people.iter().zip(&answers) {
        if a.0 == 202 {
            guichet_tests::welcome_account(&app.mailbox, &p.email).await;
            welcomed += 1;
        }
    }
    assert_eq!(welcomed, 7);
    assert_eq!(mail_total(&app).await, 7);
    // A refused person has no account.
    let refused = people
        .iter()
        .zip(&answers)
        .find(|(_, a)| a.0 == 429)
        .unwrap()
        .0;
    let r = app
        .login(&browser(), &refused.email, &refused.password)
        .await;
    assert_ne!(r.status(), 303);

    // The form is refused too, with a page in the visitor's language.
    let web = browser();
    let csrf = app.csrf(&web, "/signup").await;
    let p = Person::new("Rita", "Rate");
    // Hand-built: the request carries its own Accept-Language header.
    let r = web
        .post(app.url("/signup"))
        .header("accept-language", "fr")
        .form(&[
            ("csrf", csrf.as_str()),
            ("first_name", &p.first),
            ("last_name", &p.last),
            ("primary_email", &p.email),
            ("password", &p.password),
            ("password_confirm", &p.password),
            ("country", "FR"),
            ("language", "fr"),
            ("kind", "individual"),
        ])
        .send()
        .await
        .unwrap();
    let (status, retry, html) = answer(r).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    assert!(html.contains("Trop de demandes"), "{html}");
}

#[tokio::test]
async fn a_hundred_parallel_sign_ups_of_one_address_do_the_limit_s_worth() {
    let mut s = fresh_settings().await;
    generous(&mut s);
    s.limits.signup_per_email.count = 3;
    let app = spawn_with(s).await;
    let p = Person::new("Ines", "Same");
    let url = app.url("/api/v1/signup");
    let answers =
        at_once(
            (0..100)
                .map(|i| {
                    let url = url.clone();
                    let mut body = p.signup_json();
                    // Case does not dodge the limit.
                    if i % 2 == 1 {
                        body["primary_email"] = p.email.to_uppercase().into();
                    }
                    async move {
                        answer(bare_client().post(url).json(&body).send().await.unwrap()).await
                    }
                })
                .collect(),
        )
        .await;
    exactly(&answers, 202, 3);
    // One account, welcomed once; its holder told of the two other attempts.
    assert_eq!(
        mails(&app.mailbox, &p.email, "Customer handle: ", 1).await,
        1
    );
    assert_eq!(
        mails(
            &app.mailbox,
            &p.email,
            "Someone tried to create a new account",
            2
        )
        .await,
        2
    );
    assert_eq!(mail_total(&app).await, 3);
}

/// Posts the forgotten-handle form for `email` with `web`'s token.
async fn forgot_handle(app: &TestApp, web: &reqwest::Client, csrf: &str, email: &str) -> Answer {
    answer(
        web.post(app.url("/forgot-handle"))
            .form(&[("csrf", csrf), ("email", email)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Moves the clock to one second past the next whole minute, and returns
/// that instant. The limits' windows last whole minutes and start at whole
/// minutes, so a refusal made in the 58 seconds that follow names the same
/// minutes left as one made at that instant: two refusals compared to the
/// byte are made there, whatever real seconds passed between them.
fn one_second_past_next_minute(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    let minute = 60_000;
    let next = (app.clock.now_ms().div_euclid(minute) + 1) * minute;
    let at = chrono::DateTime::from_timestamp_millis(next + 1000).unwrap();
    app.clock.set(at);
    at
}

#[tokio::test]
async fn a_hundred_parallel_forgotten_handle_requests_mail_exactly_the_limit() {
    let mut s = fresh_settings().await;
    generous(&mut s);
    s.limits.forgot_handle_per_email.count = 4;
    let app = spawn_with(s).await;
    let p = Person::new("Hana", "Handle");
    app.signup(&p).await;
    let instant = one_second_past_next_minute(&app);
    let web = browser();
    let csrf = app.csrf(&web, "/forgot-handle").await;

    // Per address asked: four reminders, whatever the case typed.
    let answers = at_once(
        (0..100)
            .map(|i| {
                let (app_url, web, csrf) = (app.url(""), web.clone(), csrf.clone());
                let email = if i % 2 == 0 {
                    p.email.clone()
                } else {
                    p.email.to_uppercase()
                };
                async move {
                    answer(
                        web.post(format!("{app_url}/forgot-handle"))
                            .form(&[("csrf", csrf.as_str()), ("email", email.as_str())])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await
                }
            })
            .collect(),
    )
    .await;
    let known = exactly(&answers, 303, 4);
    assert_eq!(
        mails(
            &app.mailbox,
            &p.email,
            "remind you of your customer handle",
            4
        )
        .await,
        4
    );

    // An address nobody has: refused the same way after four, to the byte.
    let nobody = format!("{}@example.com", guichet_tests::unique("nobody"));
    app.clock.set(instant);
    for _ in 0..4 {
        assert_eq!(forgot_handle(&app, &web, &csrf, &nobody).await.0, 303);
    }
    let unknown = forgot_handle(&app, &web, &csrf, &nobody).await;
    assert_eq!((unknown.0, &unknown.2), (known.0, &known.2));
    assert!(unknown.1.is_some());
    assert!(unknown.2.contains("Too many requests"), "{}", unknown.2);
}

#[tokio::test]
async fn forgotten_handle_requests_are_limited_per_client_address() {
    let mut s = fresh_settings().await;
    generous(&mut s);
    s.limits.forgot_handle_per_ip.count = 6;
    let app = spawn_with(s).await;
    let web = browser();
    let csrf = app.csrf(&web, "/forgot-handle").await;
    let answers = at_once(
        (0..100)
            .map(|_| {
                let (app_url, web, csrf) = (app.url(""), web.clone(), csrf.clone());
                let email = format!("{}@example.com", guichet_tests::unique("x"));
                async move {
                    answer(
                        web.post(format!("{app_url}/forgot-handle"))
                            .form(&[("csrf", csrf.as_str()), ("email", email.as_str())])
                            .send()
                            .await
                            .unwrap(),
                    )
                    .await
                }
            })
            .collect(),
    )
    .await;
    exactly(&answers, 303, 6);
}

#[tokio::test]
async fn a_hundred_parallel_contact_requests_ask_exactly_the_limit() {
    let mut s = fresh_settings().await;
    generous(&mut s);
    s.limits.contact_requests_per_handle.count = 6;
    let app = spawn_with(s).await;
    let (a, ah) = signed_up(&app, "Ada").await;
    let (b, bh) = signed_up(&app, "Bob").await;
    let aw = logged_in(&app, &ah, &a, UA).await;
    let bw = logged_in(&app, &bh, &b, UA).await;
    let (_, html) = page(&app, &aw, "/account/contacts").await;
    let csrf = hidden(&html, "csrf").unwrap();

    let flood = |handle: String| {
        at_once(
            (0..100)
                .map(|i| {
                    let (url, aw, csrf, handle) = (
                        app.url("/account/contacts"),
                        aw.clone(),
                        csrf.clone(),
                        handle.clone(),
                    );
                    async move {
                        let service = format!("Server {i}");
                        answer(
                            aw.post(url)
                                .form(&[
                                    ("csrf", csrf.as_str()),
                                    ("service", service.as_str()),
                                    ("role", "technical"),
                                    ("handle", handle.as_str()),
                                ])
                                .send()
                                .await
                                .unwrap(),
                        )
                        .await
                    }
                })
                .collect(),
        )
    };
    let instant = one_second_past_next_minute(&app);
    let real = exactly(&flood(bh.clone()).await, 303, 6);
    // Bob is asked exactly six times.
    let (_, v) = api_get(&app, &bw, "/api/v1/account/contacts").await;
    let asked = v["delegations"].as_array().unwrap();
    assert_eq!(asked.len(), 6, "{v}");
    assert!(
        asked
            .iter()
            .all(|d| d["status"] == "pending" && d["from_handle"] == ah.as_str())
    );

    // A handle nobody holds: the same six and the same refusal, to the byte.
    let ghost = if bh.starts_with("zz") {
        "yy99999-ovh"
    } else {
        "zz99999-ovh"
    };
    app.clock.set(instant);
    let fake = exactly(&flood(ghost.to_owned()).await, 303, 6);
    assert_eq!((fake.0, &fake.2), (real.0, &real.2));
    assert!(real.2.contains("Too many requests"), "{}", real.2);
}
