use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use chrono::TimeZone;
use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

use super::*;

/// A transport that records what it is given, and refuses or stalls on demand.
#[derive(Default)]
struct FakeTransport {
    sent: Mutex<Vec<OutgoingMail>>,
    mode: Mutex<Mode>,
}

#[derive(Clone, Copy, Default)]
enum Mode {
    #[default]
    Accept,
    Refuse,
    Stall,
}

impl FakeTransport {
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn subjects(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.subject.clone())
            .collect()
    }
}

impl MailTransport for FakeTransport {
    fn send(
        &self,
        mail: OutgoingMail,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + '_>> {
        let mode = *self.mode.lock().unwrap();
        Box::pin(async move {
            match mode {
                Mode::Accept => {
                    self.sent.lock().unwrap().push(mail);
                    Ok(())
                }
                Mode::Refuse => Err(MailError::Transport(
                    "127.0.0.1:25: connection refused".into(),
                )),
                Mode::Stall => std::future::pending().await,
            }
        })
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
struct ManualClock(Clock, clock::ManualClock);

impl ManualClock {
    fn new() -> Self {
        let (clock, hand) = Clock::manual(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap());
        Self(clock, hand)
    }

    fn now(&self) -> DateTime<Utc> {
        self.1.now()
    }

    fn advance(&self, d: Duration) {
        self.1.advance(d);
    }

    fn clock(&self) -> Clock {
        self.0.clone()
    }
}

async fn setup(settings: QueueSettings) -> (MailQueue, ManualClock) {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let clock = ManualClock::new();
    let queue = MailQueue::new(db, settings).with_clock(clock.clock());
    (queue, clock)
}

fn sample(subject: &str) -> OutgoingMail {
    OutgoingMail {
        to: "alice@example.org".into(),
        subject: subject.into(),
        text: "Your code is 271828.".into(),
        html: "<p>Your code is <b>271828</b>.</p>".into(),
    }
}

async fn row(queue: &MailQueue, id: &str) -> entity::Model {
    Entity::find_by_id(id)
        .one(&queue.db)
        .await
        .unwrap()
        .expect("row")
}

#[test]
fn backoff_grows_then_caps_at_an_hour() {
    let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [5, 15, 60, 300, 900, 1800, 3600, 3600, 3600]);
    assert_eq!(backoff(0), Duration::from_secs(5));
    assert_eq!(backoff(u32::MAX), Duration::from_secs(3600));
}

#[test]
fn states_round_trip_through_their_names() {
    for s in [
        MailState::Pending,
        MailState::Sending,
        MailState::Sent,
        MailState::Failed,
    ] {
        assert_eq!(MailState::parse(s.as_str()), Some(s));
    }
    assert_eq!(MailState::parse("Sent"), None);
}

#[tokio::test]
async fn a_queued_message_is_sent_once_and_loses_its_bodies() {
    let (queue, _) = setup(QueueSettings::default()).await;
    let transport = FakeTransport::default();
    let id = queue.enqueue(sample("Welcome")).await.unwrap();

    let summary = queue.summary().await.unwrap();
    assert_eq!((summary.pending, summary.sent), (1, 0));
    assert!(summary.oldest_unsent_at.is_some());

    assert!(queue.deliver_next(&transport).await.unwrap());
    assert!(
        !queue.deliver_next(&transport).await.unwrap(),
        "nothing left"
    );
    let sent = transport.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "alice@example.org");
    assert_eq!(sent[0].text, "Your code is 271828.");
    assert_eq!(sent[0].html, "<p>Your code is <b>271828</b>.</p>");

    let r = row(&queue, &id).await;
    assert_eq!(r.state, "sent");
    assert_eq!(r.attempts, 1);
    assert!(r.sent_at.is_some() && r.locked_until.is_none());
    assert!(
        r.text_body.is_empty() && r.html_body.is_empty(),
        "links and codes are not kept once sent"
    );
    let summary = queue.summary().await.unwrap();
    assert_eq!((summary.pending, summary.sent), (0, 1));
    assert_eq!(summary.oldest_unsent_at, None);
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_before_queueing() {
    let (queue, _) = setup(QueueSettings::default()).await;
    let mail = OutgoingMail {
        to: "not an address".into(),
        ..sample("x")
    };
    assert!(matches!(
        queue.enqueue(mail).await,
        Err(MailError::InvalidAddress(a)) if a == "not an address"
    ));
    assert_eq!(queue.summary().await.unwrap(), QueueSummary::default());
}

#[tokio::test]
async fn failures_back_off_then_give_up_and_an_operator_can_retry() {
    let settings = QueueSettings::new(3, Duration::from_secs(5));
    let (queue, clock) = setup(settings).await;
    let transport = FakeTransport::default();
    transport.set(Mode::Refuse);
    let id = queue.enqueue(sample("Reset")).await.unwrap();

    // First failure: due again in 5 s, not before.
    assert!(queue.deliver_next(&transport).await.unwrap());
    let r = row(&queue, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("pending", 1));
    assert_eq!(r.next_attempt_at, clock.now() + TimeDelta::seconds(5));
    assert!(r.locked_until.is_none());
    let listed = queue.find(&id).await.unwrap().unwrap();
    assert_eq!(
        listed.last_error.as_deref(),
        Some("mail transport failed: 127.0.0.1:25: connection refused")
    );
    clock.advance(Duration::from_secs(4));
    assert!(
        !queue.deliver_next(&transport).await.unwrap(),
        "not due yet"
    );

    // Second failure: 15 s.
    clock.advance(Duration::from_secs(1));
    assert!(queue.deliver_next(&transport).await.unwrap());
    let r = row(&queue, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("pending", 2));
    assert_eq!(r.next_attempt_at, clock.now() + TimeDelta::seconds(15));

    // Third and last attempt fails: given up on, bodies kept for a retry.
    clock.advance(Duration::from_secs(15));
    assert!(queue.deliver_next(&transport).await.unwrap());
    let r = row(&queue, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("failed", 3));
    assert_eq!(r.text_body, "Your code is 271828.");
    clock.advance(Duration::from_secs(86_400));
    assert!(!queue.deliver_next(&transport).await.unwrap());
    assert_eq!(queue.summary().await.unwrap().failed, 1);
    let failed = queue.list(Some(MailState::Failed), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);

    // An operator retries it once the server is back: sent at once.
    queue.retry(&id).await.unwrap();
    let r = row(&queue, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("pending", 0));
    transport.set(Mode::Accept);
    assert!(queue.deliver_next(&transport).await.unwrap());
    assert_eq!(row(&queue, &id).await.state, "sent");
    assert_eq!(transport.subjects(), ["Reset"]);

    // Only failed messages can be retried; unknown ids are not found.
    assert!(matches!(
        queue.retry(&id).await,
        Err(MailError::NotRetryable(MailState::Sent))
    ));
    assert!(matches!(
        queue.retry(&uuid::Uuid::new_v4().to_string()).await,
        Err(MailError::NotFound)
    ));
    assert!(matches!(
        queue.retry("'; DROP TABLE mail_queue; --").await,
        Err(MailError::NotFound)
    ));
}

#[tokio::test]
async fn a_refused_recipient_is_given_up_on_at_once() {
    struct RefusesAddresses;
    impl MailTransport for RefusesAddresses {
        fn send(
            &self,
            mail: OutgoingMail,
        ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + '_>> {
            Box::pin(async move { Err(MailError::InvalidAddress(mail.to)) })
        }
    }
    let (queue, _) = setup(QueueSettings::default()).await;
    let id = queue.enqueue(sample("x")).await.unwrap();
    assert!(queue.deliver_next(&RefusesAddresses).await.unwrap());
    assert_eq!(row(&queue, &id).await.state, "failed");
}

#[tokio::test]
async fn a_claim_excludes_other_workers_until_its_lease_lapses() {
    let (worker_a, clock) = setup(QueueSettings::new(20, Duration::from_secs(10))).await;
    // A second worker on the same database, as another replica would be.
    let worker_b = worker_a.clone();
    let id = worker_a.enqueue(sample("Once")).await.unwrap();

    let claimed = worker_a.claim_next(clock.now()).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    assert_eq!(claimed.state, "sending");
    assert_eq!(
        claimed.locked_until,
        Some(clock.now() + TimeDelta::seconds(40)),
        "the lease outlasts the send timeout"
    );
    assert!(worker_b.claim_next(clock.now()).await.unwrap().is_none());
    assert!(
        worker_b.retry(&id).await.is_err(),
        "a message being sent is not retried"
    );
    assert_eq!(worker_a.summary().await.unwrap().sending, 1);

    // Worker A dies without recording anything: once its lease lapses,
    // worker B takes the message over, and the attempt counts.
    clock.advance(Duration::from_secs(40));
    assert!(worker_b.claim_next(clock.now()).await.unwrap().is_none());
    clock.advance(Duration::from_secs(1));
    let transport = FakeTransport::default();
    assert!(worker_b.deliver_next(&transport).await.unwrap());
    let r = row(&worker_b, &id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("sent", 2));
    assert_eq!(transport.subjects(), ["Once"]);
}

#[tokio::test]
async fn a_stalled_transport_counts_as_a_failure_after_the_timeout() {
    let (queue, _) = setup(QueueSettings::new(20, Duration::from_millis(100))).await;
    let transport = FakeTransport::default();
    transport.set(Mode::Stall);
    let id = queue.enqueue(sample("Slow")).await.unwrap();
    let started = std::time::Instant::now();
    assert!(queue.deliver_next(&transport).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
    let listed = queue.find(&id).await.unwrap().unwrap();
    assert_eq!(listed.state, MailState::Pending);
    assert_eq!(listed.attempts, 1);
    assert!(
        listed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer")),
        "{listed:?}"
    );
}

#[tokio::test]
async fn operators_see_the_most_recent_first_filtered_by_state() {
    let (queue, clock) = setup(QueueSettings::default()).await;
    let transport = FakeTransport::default();
    let first = queue.enqueue(sample("First")).await.unwrap();
    assert!(queue.deliver_next(&transport).await.unwrap());
    clock.advance(Duration::from_secs(60));
    let second = queue.enqueue(sample("Second")).await.unwrap();

    let all = queue.list(None, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    assert_eq!(all[0].state, MailState::Pending);
    assert_eq!(all[0].subject, "Second");
    assert_eq!(all[1].state, MailState::Sent);
    assert!(all[1].sent_at.is_some());
    assert_eq!(queue.list(None, 1).await.unwrap().len(), 1);
    let sent = queue.list(Some(MailState::Sent), 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, first);
    assert!(queue.find("nope").await.unwrap().is_none());

    let summary = queue.summary().await.unwrap();
    assert_eq!((summary.pending, summary.sent), (1, 1));
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        summary.oldest_unsent_age(clock.now()),
        Some(Duration::from_secs(30))
    );
}

#[tokio::test]
async fn the_worker_wakes_on_enqueue_and_stops_on_shutdown() {
    // A poll interval of an hour: only the wake-up can explain a prompt send.
    let settings = QueueSettings {
        poll_interval: Duration::from_secs(3600),
        ..QueueSettings::default()
    };
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let queue = MailQueue::new(db, settings);
    let transport = Arc::new(FakeTransport::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(queue.clone().run(transport.clone(), async move {
        let _ = stopped.await;
    }));
    // Let the worker reach its wait first.
    tokio::time::sleep(Duration::from_millis(50)).await;

    queue.enqueue(sample("Prompt")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while transport.subjects().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(transport.subjects(), ["Prompt"]);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the worker stops")
        .unwrap();
}
