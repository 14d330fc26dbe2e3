//! PostgreSQL restarts and SIGTERM under load.

use super::*;

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
