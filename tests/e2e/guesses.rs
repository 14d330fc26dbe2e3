//! Limits that count before they judge: of many parallel guesses at any
//! secret (password, second-factor code, emergency code, mailed login code,
//! reset link, client secret), exactly as many as the delay schedule allows
//! are checked; every other one is refused unchecked, counts nothing, and
//! looks the same whether the account exists or not.

use std::collections::BTreeMap;

use guichet_tests::{Person, TestApp, browser, fresh_settings, hidden, spawn_with};
use reqwest::Client;

use crate::twofactor::{code_at, enrol_totp, page, password_step, signed_in, sms_code};
use crate::users::{USER_PASSWORD, create_user, holder};

/// Requests fired at once in every burst.
const N: usize = 150;

/// The delays of these tests: a first failure earns a minute, a second ten,
/// so a burst never outlasts the first delay, and the wait after it tells
/// how many failures were counted.
const DELAYS: [u64; 3] = [60, 600, 3600];

/// An instance with those delays and `email_code` as the login-code policy.
async fn spawn_slow(email_code: &str) -> TestApp {
    let mut s = fresh_settings().await;
    s.login.failure_delays_secs = DELAYS
        .iter()
        .map(|d| std::time::Duration::from_secs(*d))
        .collect();
    s.login.email_code = email_code.parse().expect("email_code");
    spawn_with(s).await
}

/// One answer as a client sees it: status, the headers that do not change
/// per request, and the body.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Seen {
    async fn of(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id"))
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = r.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    fn retry_after(&self) -> u64 {
        self.headers["retry-after"].parse().unwrap()
    }
}

/// Sends `N` requests at once, the `i`th built by `make(i)`, and returns
/// every answer.
async fn burst(make: impl Fn(usize) -> reqwest::RequestBuilder) -> Vec<Seen> {
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let req = make(i);
            tokio::spawn(async move { Seen::of(req.send().await.unwrap()).await })
        })
        .collect();
    let mut seen = Vec::with_capacity(N);
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen
}

/// How many answers had each status.
fn counts(seen: &[Seen]) -> BTreeMap<u16, usize> {
    let mut c = BTreeMap::new();
    for s in seen {
        *c.entry(s.status).or_insert(0) += 1;
    }
    c
}

/// The refusal that came first after the one counted failure (the longest
/// wait): the one to compare across bursts.
fn first_refusal(seen: &[Seen]) -> Seen {
    seen.iter()
        .filter(|s| s.status == 429)
        .max_by_key(|s| s.retry_after())
        .expect("a refusal")
        .clone()
}

/// `N` wrong passwords at once for `identifier`, from one browser.
async fn login_burst(app: &TestApp, web: &Client, identifier: &str) -> Vec<Seen> {
    let csrf = app.csrf(web, "/login").await;
    let url = app.url("/login");
    // Hand-built on purpose: a parallel attack fires the same pre-read token
    // N times at once, not what a browser's form sends.
    burst(|i| {
        web.post(&url).form(&[
            ("identifier", identifier),
            ("password", &format!("wrong guess number {i}")),
            ("csrf", &csrf),
            ("next", ""),
        ])
    })
    .await
}

/// Another identifier of the same length: the same digits shifted by one
/// (a handle nobody holds in a fresh database).
fn unknown_like(identifier: &str) -> String {
    identifier
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap(),
            None => c,
        })
        .collect()
}

/// Status, headers and body with the identifier blanked.
fn modulo(seen: &Seen, identifier: &str) -> Seen {
    Seen {
        body: seen.body.replace(identifier, "IDENTIFIER"),
        ..seen.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_passwords_for_a_holder_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let p = Person::new("Hundred", "Fifty");
    let handle = app.signup(&p).await;
    let seen = login_burst(&app, &browser(), &handle).await;
    assert_eq!(counts(&seen), BTreeMap::from([(401, 1), (429, N - 1)]));
    assert!(seen.iter().filter(|s| s.status == 401).all(|s| {
        s.body
            .contains("The customer handle, email or password is incorrect.")
    }));
    // The refusals counted nothing: the right password waits out the first
    // delay (one failure), not the cap.
    let r = Seen::of(app.login(&browser(), &handle, &p.password).await).await;
    assert_eq!(r.status, 429);
    assert!(
        (DELAYS[0] - 5..=DELAYS[0]).contains(&r.retry_after()),
        "{r:?}"
    );
    assert!(r.body.contains("Too many failed attempts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_handle_is_checked_as_often_and_refused_identically() {
    let app = spawn_slow("never").await;
    let p = Person::new("Known", "Handle");
    let handle = app.signup(&p).await;
    let unknown = unknown_like(&handle);
    assert_ne!(unknown, handle);
    // One browser for both, so the anti-CSRF token in the pages is the same.
    let web = browser();
    let known_seen = login_burst(&app, &web, &handle).await;
    let unknown_seen = login_burst(&app, &web, &unknown).await;
    assert_eq!(
        counts(&known_seen),
        BTreeMap::from([(401, 1), (429, N - 1)])
    );
    assert_eq!(counts(&unknown_seen), counts(&known_seen));
    let a = modulo(&first_refusal(&known_seen), &handle);
    let b = modulo(&first_refusal(&unknown_seen), &unknown);
    assert_eq!(a.retry_after(), DELAYS[0]);
    assert_eq!(a, b, "same status, headers (Retry-After included) and body");
    let wrong_a = known_seen.iter().find(|s| s.status == 401).unwrap();
    let wrong_b = unknown_seen.iter().find(|s| s.status == 401).unwrap();
    assert_eq!(modulo(wrong_a, &handle), modulo(wrong_b, &unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_passwords_for_a_local_user_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let h = holder(&app, "Lena").await;
    create_user(&app, &h, "john", "DEFAULT").await;
    let web = browser();
    let user = format!("{}/john", h.handle);
    // A user nobody created, named the same length.
    let nobody = format!("{}/jane", h.handle);
    let user_seen = login_burst(&app, &web, &user).await;
    let nobody_seen = login_burst(&app, &web, &nobody).await;
    assert_eq!(counts(&user_seen), BTreeMap::from([(401, 1), (429, N - 1)]));
    assert_eq!(counts(&nobody_seen), counts(&user_seen));
    assert_eq!(
        modulo(&first_refusal(&user_seen), &user),
        modulo(&first_refusal(&nobody_seen), &nobody)
    );
    // The user's count is theirs: the holder is not delayed, and the user
    // waits out one delay even with the right password.
    assert_eq!(
        app.login(&browser(), &h.handle, &h.person.password)
            .await
            .status(),
        303
    );
    let r = Seen::of(app.login(&browser(), &user, USER_PASSWORD).await).await;
    assert_eq!(r.status, 429);
    assert!((DELAYS[0] - 5..=DELAYS[0]).contains(&r.retry_after()));
}

/// `N` wrong codes at once at the second step, for `method`.
async fn second_step_burst(
    app: &TestApp,
    web: &Client,
    method: &str,
    codes: impl Fn(usize) -> String,
) -> Vec<Seen> {
    let (status, html) = page(app, web, "/login/2fa").await;
    assert_eq!(status, 200, "{html}");
    let csrf = hidden(&html, "csrf").unwrap();
    let url = app.url("/login/2fa");
    // Hand-built on purpose: a parallel attack fires the same pre-read token
    // N times at once, not what a browser's form sends.
    burst(|i| {
        web.post(&url).form(&[
            ("csrf", csrf.as_str()),
            ("method", method),
            ("code", &codes(i)),
            ("next", ""),
        ])
    })
    .await
}

/// A six-digit code that is none of `avoid`.
fn wrong_code(i: usize, avoid: &[String]) -> String {
    (i..)
        .map(|n| format!("{:06}", (n * 7919 + 13) % 1_000_000))
        .find(|c| !avoid.contains(c))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_authenticator_codes_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let (web, p, handle) = signed_in(&app).await;
    let (totp, _) = enrol_totp(&app, &web).await;
    let half = password_step(&app, &handle, &p.password).await;
    let (_, html) = page(&app, &half, "/login/2fa").await;
    let method = hidden(&html, "method").unwrap();
    let live: Vec<String> = (-1..=1).map(|o| code_at(&app, &totp, o)).collect();
    let seen = second_step_burst(&app, &half, &method, |i| wrong_code(i, &live)).await;
    assert_eq!(counts(&seen), BTreeMap::from([(401, 1), (429, N - 1)]));
    let refusal = first_refusal(&seen);
    assert!(refusal.body.contains("Too many wrong codes"));
    // Even the right code now waits: one failure was counted, one delay.
    let r = second_step_burst(&app, &half, &method, |_| code_at(&app, &totp, 0)).await;
    assert_eq!(counts(&r), BTreeMap::from([(429, N)]));
    assert!((DELAYS[0] - 5..=DELAYS[0]).contains(&first_refusal(&r).retry_after()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_emergency_codes_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let (web, p, handle) = signed_in(&app).await;
    let (_, codes) = enrol_totp(&app, &web).await;
    let half = password_step(&app, &handle, &p.password).await;
    let seen = second_step_burst(&app, &half, "recovery", |i| {
        format!("wrong-{i:04}-{}", &codes[0][..2])
    })
    .await;
    assert_eq!(counts(&seen), BTreeMap::from([(401, 1), (429, N - 1)]));
    // Nothing was spent: all ten codes are left.
    let (_, step) = page(&app, &half, "/login/2fa").await;
    assert!(step.contains("An emergency code (10 left)"), "{step}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_sms_codes_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let (web, p, handle) = signed_in(&app).await;
    let start = app.client_on(&web).get("/account/security/sms").await;
    let r = start
        .form("/account/security/sms")
        .fill(&[("label", "Work"), ("phone", "+44 7700 900456")])
        .submit()
        .await;
    assert_eq!(r.status, 200);
    let method = r.field("method").unwrap();
    let enrol_code = sms_code(&app, "+447700900456", None).await;
    let done = r
        .form("/account/security/sms/confirm")
        .set("code", &enrol_code)
        .send()
        .await;
    assert_eq!(done.status(), 303);

    let half = password_step(&app, &handle, &p.password).await;
    let step = app.client_on(&half).get("/login/2fa").await;
    let r = step.form("/login/2fa/sms").send().await;
    assert_eq!(r.status(), 303);
    let sent = sms_code(&app, "+447700900456", Some(&enrol_code)).await;
    let seen = second_step_burst(&app, &half, &method, |i| {
        wrong_code(i, std::slice::from_ref(&sent))
    })
    .await;
    assert_eq!(counts(&seen), BTreeMap::from([(401, 1), (429, N - 1)]));
}

/// The six-digit code in a mail.
fn six_digits(mail: &str) -> String {
    mail.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_mailed_login_codes_exactly_one_is_checked() {
    let app = spawn_slow("always").await;
    let p = Person::new("Mail", "Coded");
    let handle = app.signup(&p).await;
    let web = browser();
    let r = app.login(&web, &handle, &p.password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login/email-code");
    let mail = app.mail_to_with(&p.email, "Sign-in code").await;
    let body = mail
        .split("\r\n\r\n")
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n");
    let code = six_digits(&body);
    let html = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let url = app.url("/login/email-code");
    // Hand-built on purpose: a parallel attack fires the same pre-read token
    // N times at once, not what a browser's form sends.
    let seen = burst(|i| {
        web.post(&url).form(&[
            ("csrf", csrf.as_str()),
            ("code", &wrong_code(i, std::slice::from_ref(&code))),
        ])
    })
    .await;
    assert_eq!(counts(&seen), BTreeMap::from([(401, 1), (429, N - 1)]));
    assert!(first_refusal(&seen).body.contains("Too many wrong codes"));
}

/// A live reset link's token for `p`, asked through the form.
async fn reset_token(app: &TestApp, p: &Person, handle: &str) -> String {
    let web = browser();
    let r = app
        .client_on(&web)
        .get("/forgot-password")
        .await
        .form("/forgot-password")
        .set("identifier", handle)
        .send()
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let mail = app.mail_to_with(&p.email, "/reset-password?token=").await;
    let start = mail.find("/reset-password?token=").unwrap();
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    link.trim_start_matches("/reset-password?token=").to_owned()
}

/// `N` reset forms at once.
/// `N` reset-form posts at once from `web`. Bursts of one test share a
/// client: a fresh one per burst would open its 150 connections while the
/// last burst's are still closing, past the server's cap of connections
/// per address, and the ones over it are shed unanswered, as they should be.
async fn reset_burst(
    app: &TestApp,
    web: &Client,
    token: impl Fn(usize) -> String,
    handle: &str,
) -> Vec<Seen> {
    let url = app.url("/reset-password");
    // Hand-built on purpose: a parallel attack fires the same pre-read token
    // N times at once, not what a browser's form sends.
    burst(|i| {
        web.post(&url).form(&[
            ("token", token(i).as_str()),
            ("handle", handle),
            ("password", "amber lighthouse in fog"),
            ("password_confirm", "amber lighthouse in fog"),
        ])
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_handles_on_a_reset_link_exactly_one_is_checked() {
    let app = spawn_slow("never").await;
    let p = Person::new("Reset", "Guess");
    let handle = app.signup(&p).await;
    let token = reset_token(&app, &p, &handle).await;
    let web = browser();
    let seen = reset_burst(&app, &web, |_| token.clone(), &unknown_like(&handle)).await;
    assert_eq!(counts(&seen), BTreeMap::from([(422, 1), (429, N - 1)]));
    assert!(
        seen.iter()
            .any(|s| s.status == 422 && s.body.contains("not the customer handle"))
    );
    // The link itself now waits one delay, even with the right handle, and
    // the password is unchanged.
    let r = reset_burst(&app, &web, |_| token.clone(), &handle).await;
    assert_eq!(counts(&r), BTreeMap::from([(429, N)]));
    assert!((DELAYS[0] - 5..=DELAYS[0]).contains(&first_refusal(&r).retry_after()));
    assert_eq!(
        app.login(&browser(), &handle, &p.password).await.status(),
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_guessed_reset_links_from_one_address_only_its_free_ones_are_checked() {
    let app = spawn_slow("never").await;
    // Each guess is another link, so only the address's count holds them:
    // its free failures, then the first delay.
    let free = app.settings.login.ip_free_failures as usize;
    let seen = reset_burst(
        &app,
        &browser(),
        |i| format!("guessed-link-{i:04}-AAAAAAAAAAAAAAAAAAAAAAAA"),
        "zz99999-ovh",
    )
    .await;
    assert_eq!(
        counts(&seen),
        BTreeMap::from([(410, free + 1), (429, N - free - 1)])
    );
    // Opening a link tells whether it is live, so it waits too.
    let r = browser()
        .get(app.url("/reset-password?token=guessed-link-9999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_150_parallel_wrong_client_secrets_only_the_addresss_free_ones_are_checked() {
    let app = spawn_slow("never").await;
    let (id, secret) = crate::oauth::service(&app).await;
    let c = guichet_tests::bare_client();
    let url = app.url("/oauth2/token");
    let token = |secret: String| {
        let (c, url, id) = (c.clone(), url.clone(), id.clone());
        move |_: usize| {
            c.post(&url)
                .basic_auth(&id, Some(secret.clone()))
                .form(&[("grant_type", "client_credentials")])
        }
    };
    // A busy client's right secrets never hold each other up.
    let right = burst(token(secret.clone())).await;
    assert_eq!(counts(&right), BTreeMap::from([(200, N)]));
    // Wrong ones from one address: its free failures, then the delay.
    let free = app.settings.login.ip_free_failures as usize;
    let wrong = burst(token("not-the-secret".into())).await;
    assert_eq!(
        counts(&wrong),
        BTreeMap::from([(401, free + 1), (429, N - free - 1)])
    );
    assert!(first_refusal(&wrong).body.contains("invalid_client"));
    // The address owes its wait even to the right secret now.
    let r = burst(token(secret)).await;
    assert_eq!(counts(&r), BTreeMap::from([(429, N)]));
}
