//! The code mailed at a risky login: once, for its attempt, slowed when wrong, and what the page says when no more can come.

use super::*;

#[tokio::test]
async fn a_risky_login_code_works_once_and_only_for_its_attempt() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "risk").await;
    let p = Person::new("Rick", "Risky");
    let handle = app.signup(&p).await;

    // Two logins from two new devices: two codes, each bound to its attempt.
    let a = to_code_step(&app, &handle, &p.password).await;
    let page = a
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("spam"), "{page}");
    assert!(!page.contains(&p.email), "the address is masked");
    let mail_a = sink.wait_for(&p.email, "Sign-in code").await;
    let code_a = six_digits(
        &mail_a
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let b = to_code_step(&app, &handle, &p.password).await;
    let r = a.get(app.url("/account")).send().await.unwrap();
    assert!(
        location(&r).starts_with("/login"),
        "no account page before the code"
    );

    let r = enter_code(&app, &b, &code_a).await;
    assert_eq!(r.status(), 401, "A's code does not open B's login");
    // Wrong codes count per account: past the one-second delay B earned.
    app.clock.advance(Duration::from_millis(1100));
    let r = enter_code(&app, &a, &code_a).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert_eq!(location(&r), "/account");
    assert!(set_cookie(&r, "guichet_session").is_some());
    assert!(set_cookie(&r, "guichet_device").is_some());
    let r = a.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The same code again, even at once: the pending login is gone.
    let r = enter_code(&app, &a, &code_a).await;
    assert_eq!(location(&r), "/login", "nothing to enter a code for");
    assert!(set_cookie(&r, "guichet_session").is_none());

    // From the device that passed, the next login needs no code...
    log_out(&app, &a).await;
    let r = app.login(&a, &handle, &p.password).await;
    assert_eq!(location(&r), "/account");
    // ...unless failures came first.
    log_out(&app, &a).await;
    let r = app.login(&a, &handle, "wrong password, surely").await;
    assert_eq!(r.status(), 401);
    app.clock.advance(Duration::from_millis(1100));
    let r = app.login(&a, &handle, &p.password).await;
    assert_eq!(location(&r), "/login/email-code");
}

#[tokio::test]
async fn wrong_login_codes_are_slowed_and_void_the_code_after_five() {
    let sink = SmtpSink::start();
    let app = spawn_mailing(&sink, "always").await;
    let p = Person::new("Wanda", "Wrong");
    let handle = app.signup(&p).await;
    let web = to_code_step(&app, &handle, &p.password).await;
    let mail = sink.wait_for(&p.email, "Sign-in code").await;
    let code = six_digits(
        &mail
            .split("\r\n\r\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = enter_code(&app, &web, &wrong).await;
    assert_eq!(r.status(), 401);
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 429, "a delay after a wrong code");
    assert!(r.headers().contains_key("retry-after"));
    app.clock.advance(Duration::from_millis(1100));
    let r = enter_code(&app, &web, &code).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn when_no_more_login_codes_can_come_the_page_says_so_and_what_to_do() {
    let mut s = fresh_settings().await;
    s.login.email_code = guichet::settings::EmailCode::Always;
    // No delays between wrong codes: this test is about the mail limits.
    s.login.failure_delays_secs = vec![std::time::Duration::ZERO];
    let app = spawn_with(s).await;
    let p = Person::new("Lim", "Ited");
    let handle = app.signup(&p).await;

    // One login may have three mails: the first and two resends.
    let web = to_code_step(&app, &handle, &p.password).await;
    for _ in 0..2 {
        let (status, html) = resend_code(&app, &web).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("We sent a new code"), "{html}");
    }
    let (status, html) = resend_code(&app, &web).await;
    assert_eq!(status, 429);
    assert!(
        html.contains("We cannot send another code for this login. Enter the last code we sent"),
        "{html}"
    );
    assert_eq!(
        offers(&html),
        (true, false, true),
        "the last code still works"
    );
    // Five wrong codes void it: no code field, no resend button, the way out.
    let mut last = String::new();
    for _ in 0..5 {
        let r = enter_code(&app, &web, "000000").await;
        assert_eq!(r.status(), 401);
        last = r.text().await.unwrap();
    }
    assert!(
        last.contains("This code no longer works, and this login cannot get another one. Log in again to get a new code."),
        "{last}"
    );
    assert_eq!(offers(&last), (false, false, true));
    assert!(
        !last.contains("We sent a 6-digit code"),
        "no code is announced"
    );

    // Ten code mails an hour per account: two more logins of three mails and
    // one of one reach it; the next login is told no code is coming.
    for mails in [3, 3, 1] {
        let web = to_code_step(&app, &handle, &p.password).await;
        for _ in 1..mails {
            assert_eq!(resend_code(&app, &web).await.0, 200);
        }
    }
    let web = to_code_step(&app, &handle, &p.password).await;
    let html = web
        .get(app.url("/login/email-code"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("No code is on its way") && html.contains("Log in again in 60 minutes"),
        "{html}"
    );
    assert_eq!(offers(&html), (false, false, true));
    assert!(!html.contains("We sent a 6-digit code"), "{html}");

    // The same in French and Italian.
    for (lang, text) in [
        ("fr", "Aucun code n&#39;est en route"),
        ("it", "Nessun codice è in arrivo"),
    ] {
        web.get(app.url(&format!("/lang/{lang}")))
            .send()
            .await
            .unwrap();
        let html = web
            .get(app.url("/login/email-code"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(text) || html.contains(&text.replace("&#39;", "'")),
            "{lang}: {html}"
        );
    }
}
