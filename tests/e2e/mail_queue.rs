//! Mail through the queue to a real SMTP server: it arrives, and when the
//! server is down the customer's request is neither slowed nor failed, the
//! operator sees the message waiting, and it arrives once the server is back.

use std::time::{Duration, Instant};

use guichet_tests::smtp::{SmtpSink, spawn_with_smtp};
use guichet_tests::{OPERATOR_TOKEN, Person, TestApp, bare_client};
use reqwest::StatusCode;
use serde_json::Value;

/// Signs `p` up through the JSON API; the status, how long it took, and the
/// body of the answer.
async fn timed_signup(app: &TestApp, p: &Person) -> (StatusCode, Duration, Value) {
    let started = Instant::now();
    let r = bare_client()
        .post(app.url("/api/v1/signup"))
        .json(&p.signup_json())
        .send()
        .await
        .expect("sign-up request");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let elapsed = started.elapsed();
    (status, elapsed, body)
}

/// `GET /admin/v1/mail` as the test operator.
async fn mail_queue(app: &TestApp) -> Value {
    let r = bare_client()
        .get(app.operator_url("/admin/v1/mail"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls the operator API (up to 10 s) until the message to `to` satisfies
/// `wanted`; returns the whole answer and that message.
async fn wait_for_message(
    app: &TestApp,
    to: &str,
    wanted: impl Fn(&Value) -> bool,
) -> (Value, Value) {
    wait_for_queue(app, to, |_, m| wanted(m)).await
}

/// The same, with a condition on the whole answer: the summary and the list
/// are two reads, so a worker may move a message between them.
async fn wait_for_queue(
    app: &TestApp,
    to: &str,
    wanted: impl Fn(&Value, &Value) -> bool,
) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let queue = mail_queue(app).await;
        let message = queue["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["recipient"] == to)
            .cloned();
        if let Some(m) = message.filter(|m| wanted(&queue, m)) {
            return (queue, m);
        }
        assert!(
            Instant::now() < deadline,
            "the operator API never showed the expected message to {to}: {queue:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_welcome_mail_reaches_the_smtp_server() {
    let sink = SmtpSink::start();
    let app = spawn_with_smtp(&sink).await;
    let p = Person::new("Camille", "Durand");

    let handle = app.signup(&p).await;

    let mail = sink.wait_for(&p.email, &handle).await;
    assert!(
        mail.contains("From: Guichet <no-reply@localhost>"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("Subject: Your account {handle} is ready")),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("Customer handle: {handle}")),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("{}/verify-email?token=", app.base)),
        "{mail}"
    );
    let (_, m) = wait_for_message(&app, &p.email, |m| m["state"] == "sent").await;
    assert_eq!(m["attempts"], 1);
    assert_eq!(sink.messages_to(&p.email, &handle).len(), 1, "sent once");
}

#[tokio::test]
async fn with_the_smtp_server_down_nothing_is_lost_or_slowed() {
    let mut sink = SmtpSink::start();
    let app = spawn_with_smtp(&sink).await;

    // With the server up: the reference status and time.
    let up = Person::new("Alix", "Bernard");
    let (up_status, up_time, up_body) = timed_signup(&app, &up).await;
    assert_eq!(up_status, 202);
    let up_mail = sink.wait_for(&up.email, "Customer handle: ").await;
    let (up_handle, _) = guichet_tests::welcome_lines(&up_mail);
    assert!(up_mail.contains(&format!("Subject: Your account {up_handle} is ready")));

    // With the server down, the customer sees the same answer, as fast.
    sink.stop();
    let down = Person::new("Sacha", "Petit");
    let (down_status, down_time, down_body) = timed_signup(&app, &down).await;
    assert_eq!(down_status, up_status);
    assert_eq!(
        down_body.to_string().replace(&down.email, "EMAIL"),
        up_body.to_string().replace(&up.email, "EMAIL")
    );
    assert!(
        down_time < Duration::from_secs(2),
        "sign-up took {down_time:?} with the mail server down ({up_time:?} with it up)"
    );

    // The operator sees the message waiting, with the reason, and no body.
    let (queue, m) = wait_for_queue(&app, &down.email, |q, m| {
        m["state"] == "pending"
            && m["last_error"].is_string()
            && q["summary"]["pending"].as_u64() >= Some(1)
    })
    .await;
    assert!(m["attempts"].as_u64().unwrap() >= 1, "{m}");
    assert!(m["sent_at"].is_null(), "{m}");
    let waiting_subject = m["subject"].as_str().unwrap().to_owned();
    assert!(
        queue["summary"]["pending"].as_u64().unwrap() >= 1,
        "{queue}"
    );
    assert!(
        queue["summary"]["oldest_unsent_created_at"].is_string(),
        "{queue}"
    );
    let text = queue.to_string();
    assert!(
        !text.contains("verify-email"),
        "no body in the operator API: {text}"
    );
    let id = m["id"].as_str().unwrap().to_owned();
    // A message still being retried is not the operator's to retry.
    let r = bare_client()
        .post(app.operator_url(&format!("/admin/v1/mail/{id}/retry")))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Once the server is back the mail arrives with nobody doing anything:
    // the next attempt is due within the first back-off (5 s).
    sink.restart();
    let mail = sink
        .wait_for_within(&down.email, "Customer handle: ", Duration::from_secs(30))
        .await;
    let (handle, _) = guichet_tests::welcome_lines(&mail);
    assert_eq!(waiting_subject, format!("Your account {handle} is ready"));
    assert!(
        mail.contains(&format!("{}/verify-email?token=", app.base)),
        "{mail}"
    );
    let (queue, m) = wait_for_message(&app, &down.email, |m| m["state"] == "sent").await;
    assert_eq!(m["id"], id.as_str());
    assert!(m["sent_at"].is_string(), "{m}");
    assert!(m["attempts"].as_u64().unwrap() >= 2, "{m}");
    assert_eq!(queue["summary"]["pending"], 0, "{queue}");
    assert_eq!(sink.messages_to(&down.email, &handle).len(), 1, "sent once");
}

#[tokio::test]
async fn the_operator_api_filters_by_state_and_refuses_what_it_does_not_know() {
    let sink = SmtpSink::start();
    let app = spawn_with_smtp(&sink).await;
    let p = Person::new("Noa", "Girard");
    app.signup(&p).await;
    wait_for_message(&app, &p.email, |m| m["state"] == "sent").await;

    let get = |query: &str| {
        bare_client()
            .get(app.operator_url(&format!("/admin/v1/mail{query}")))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
    };
    let sent: Value = get("?state=sent").await.unwrap().json().await.unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1, "{sent}");
    assert_eq!(sent["summary"]["sent"], 1, "{sent}");
    let failed: Value = get("?state=failed&limit=5")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["messages"], serde_json::json!([]), "{failed}");
    assert_eq!(get("?state=lost").await.unwrap().status(), 422);
    assert_eq!(get("?limit=0").await.unwrap().status(), 422);
    assert_eq!(get("?colour=red").await.unwrap().status(), 400);

    let retry = |id: &str| {
        bare_client()
            .post(app.operator_url(&format!("/admin/v1/mail/{id}/retry")))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
    };
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(retry(&unknown).await.unwrap().status(), 404);
    assert_eq!(retry("not-an-id").await.unwrap().status(), 404);
    let r = bare_client()
        .get(app.operator_url("/admin/v1/mail"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "operators only");
}

#[tokio::test]
async fn two_replicas_on_one_database_send_each_message_once() {
    let mut sink = SmtpSink::start();
    let first = spawn_with_smtp(&sink).await;
    // A second replica on the same database (and data directory, which holds
    // the SQLite file by default), sending through the same server.
    let second = guichet_tests::spawn_with(first.settings.clone()).await;

    // Mail queued on both while the server is down comes due on both
    // replicas at about the same time once it is back.
    sink.stop();
    let mut people = Vec::new();
    for (i, app) in [&first, &second, &first, &second, &first, &second]
        .into_iter()
        .enumerate()
    {
        let p = Person::new("Replica", &format!("Test{i}"));
        // The handle comes by mail only, and the mail server is down.
        let (status, _, _) = timed_signup(app, &p).await;
        assert_eq!(status, 202);
        people.push(p);
    }
    for p in &people {
        wait_for_message(&first, &p.email, |m| m["last_error"].is_string()).await;
    }
    sink.restart();

    let mut people_and_handles = Vec::new();
    for p in people {
        let mail = sink
            .wait_for_within(&p.email, "Customer handle: ", Duration::from_secs(30))
            .await;
        let (handle, _) = guichet_tests::welcome_lines(&mail);
        people_and_handles.push((p, handle));
    }
    let people = people_and_handles;
    for (p, _) in &people {
        wait_for_message(&second, &p.email, |m| m["state"] == "sent").await;
    }
    // A duplicate, if any, was being sent by a worker that has not yet
    // found the queue empty since: wait for each worker's next idle pass.
    let idle = |q: &Value| q["worker"]["idle_passes"].as_u64().unwrap();
    let before = [
        idle(&mail_queue(&first).await),
        idle(&mail_queue(&second).await),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = [
            idle(&mail_queue(&first).await),
            idle(&mail_queue(&second).await),
        ];
        if now[0] > before[0] && now[1] > before[1] {
            break;
        }
        assert!(Instant::now() < deadline, "the workers never went idle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (p, handle) in &people {
        assert_eq!(
            sink.messages_to(&p.email, handle).len(),
            1,
            "{} received once",
            p.email
        );
    }
}
