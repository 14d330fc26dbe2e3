//! The outgoing mail queue, persisted in the database.
//!
//! A request only pays for one INSERT ([`MailQueue::enqueue`]); a worker
//! ([`MailQueue::run`]) sends each message through a [`MailTransport`] and
//! retries with back-off when the transport fails, so a mail server that is
//! down or slow loses nothing and slows no request.
//!
//! Architecture invariant: a worker sends a message only after one conditional
//! UPDATE moved it to `sending` and reported exactly one row changed. Replicas
//! sharing the database therefore never send the same message at the same
//! time, and a claim that a crashed worker left behind lapses at
//! `locked_until`, after which any worker may take the message over.

mod entity;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tokio::sync::Notify;

use crate::{MailError, MailTransport, OutgoingMail, parse_mailbox};
use entity::{ActiveModel, Column, Entity};

pub use clock::Clock;

/// The waits after the 1st, 2nd, … failed attempt; the last one repeats.
const BACKOFF_SECS: [u64; 7] = [5, 15, 60, 300, 900, 1800, 3600];

/// How many due messages one claim round looks at: when replicas race for the
/// same row, the loser moves on to the next instead of polling again.
const CLAIM_CANDIDATES: u64 = 8;

/// The longest `last_error` kept, in characters: enough for an SMTP reply.
const MAX_ERROR_CHARS: usize = 500;

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailState {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a worker, which is sending it.
    Sending,
    /// Accepted by the transport.
    Sent,
    /// Given up on after the last attempt, or refused for good.
    Failed,
}

impl MailState {
    /// The name stored in the table and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// The state a stored or requested name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How the queue sends and retries.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// Attempts before a message is marked `failed`.
    pub max_attempts: u32,
    /// Upper bound for one send through the transport.
    pub send_timeout: Duration,
    /// How long a claim lasts; longer than `send_timeout`, so that a claim
    /// only lapses when its worker is gone.
    pub lease: Duration,
    /// How often the worker looks for due messages when nothing wakes it
    /// (messages queued by another replica, retries coming due).
    pub poll_interval: Duration,
}

impl QueueSettings {
    /// Settings with the given attempts and send bound; the lease is the send
    /// bound plus 30 s and the worker polls every second.
    pub fn new(max_attempts: u32, send_timeout: Duration) -> Self {
        Self {
            max_attempts,
            send_timeout,
            lease: send_timeout + Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self::new(20, Duration::from_secs(30))
    }
}

/// The wait before the next attempt after `failures` failed ones: 5 s, 15 s,
/// 1 min, 5 min, 15 min, 30 min, then 1 h each time.
pub fn backoff(failures: u32) -> Duration {
    let i = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
    Duration::from_secs(BACKOFF_SECS[i.min(BACKOFF_SECS.len() - 1)])
}

/// A queued message as operators see it: everything but the bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMail {
    /// The message's id (a UUID).
    pub id: String,
    /// The `To:` of the message.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// Where it stands.
    pub state: MailState,
    /// How many times a worker took it up.
    pub attempts: u32,
    /// When a pending message is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The transport's last refusal.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the transport accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The columns of [`QueuedMail`], in its order, as one query reads them.
type QueuedRow = (
    String,
    String,
    String,
    String,
    i32,
    DateTime<Utc>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

impl QueuedMail {
    fn from_row(row: QueuedRow) -> Result<Self, MailError> {
        let (
            id,
            recipient,
            subject,
            state,
            attempts,
            next_attempt_at,
            last_error,
            created_at,
            sent_at,
        ) = row;
        Ok(Self {
            state: parse_state(&state)?,
            id,
            recipient,
            subject,
            attempts: u32::try_from(attempts).unwrap_or(0),
            next_attempt_at,
            last_error,
            created_at,
            sent_at,
        })
    }
}

/// How many messages are in each state, for operators and alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueSummary {
    /// Waiting for an attempt.
    pub pending: u64,
    /// Being sent now.
    pub sending: u64,
    /// Accepted by the transport.
    pub sent: u64,
    /// Given up on; operators may retry them.
    pub failed: u64,
    /// When the oldest message not yet sent (pending or sending) was queued.
    pub oldest_unsent_at: Option<DateTime<Utc>>,
}

impl QueueSummary {
    /// How long the oldest message not yet sent has waited at `now`.
    pub fn oldest_unsent_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.oldest_unsent_at
            .map(|t| (now - t).to_std().unwrap_or(Duration::ZERO))
    }
}

/// The mail queue: cheap to clone, every clone shares the database and the
/// wake-up signal of this process's worker.
#[derive(Clone)]
pub struct MailQueue {
    db: DatabaseConnection,
    settings: Arc<QueueSettings>,
    wake: Arc<Notify>,
    clock: Clock,
    /// How many times this process's worker found nothing due: once it
    /// moves, every send the worker had begun before is finished.
    idle_passes: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for MailQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailQueue")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MailQueue {
    /// A queue over the `mail_queue` table of `db`.
    pub fn new(db: DatabaseConnection, settings: QueueSettings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
            clock: Clock::system(),
            idle_passes: Arc::default(),
        }
    }

    /// Replaces the clock, so tests can move time without sleeping.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Queues a message for sending now and returns its id. This is the only
    /// cost the caller pays: one INSERT. A recipient that is not a mailbox is
    /// refused here rather than queued for attempts that cannot succeed.
    pub async fn enqueue(&self, mail: OutgoingMail) -> Result<String, MailError> {
        parse_mailbox(&mail.to)?;
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        Entity::insert(ActiveModel {
            id: Set(id.clone()),
            recipient: Set(mail.to),
            subject: Set(mail.subject),
            text_body: Set(mail.text),
            html_body: Set(mail.html),
            state: Set(MailState::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Sends due messages until `shutdown` completes. It wakes at once when
    /// this process queues a message and otherwise looks every
    /// `poll_interval`. A send in flight at shutdown is finished (it is
    /// bounded by `send_timeout`) rather than cut off, which would leave the
    /// message claimed until its lease lapsed.
    pub async fn run(
        self,
        transport: Arc<dyn MailTransport>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let delivered = match self.deliver_next(transport.as_ref()).await {
                Ok(delivered) => delivered,
                Err(e) => {
                    tracing::error!(error = %e, "mail queue: cannot claim or record a message");
                    false
                }
            };
            if delivered {
                // Between two messages, stop if asked, without waiting.
                let stopping =
                    std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready()))
                        .await;
                if stopping {
                    break;
                }
                continue;
            }
            self.idle_passes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
        tracing::debug!("mail queue worker stopped");
    }

    /// How many times this process's worker found nothing due to send.
    pub fn idle_passes(&self) -> u64 {
        self.idle_passes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Claims one due message, sends it and records the outcome. Returns
    /// whether there was a message to send (sent or not).
    pub async fn deliver_next(&self, transport: &dyn MailTransport) -> Result<bool, MailError> {
        let Some(row) = self.claim_next(self.now()).await? else {
            return Ok(false);
        };
        let id = row.id;
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let mail = OutgoingMail {
            to: row.recipient,
            subject: row.subject,
            text: row.text_body,
            html: row.html_body,
        };
        let to = mail.to.clone();
        let timeout = self.settings.send_timeout;
        let outcome = match tokio::time::timeout(timeout, transport.send(mail)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(MailError::Transport(format!(
                "no answer within {}s",
                timeout.as_secs()
            ))),
        };
        let now = self.now();
        match outcome {
            Ok(()) => self.record_sent(&id, now).await?,
            Err(e) => {
                // A recipient that is not a mailbox will never become one.
                let give_up = attempts >= self.settings.max_attempts
                    || matches!(e, MailError::InvalidAddress(_));
                let error = truncate(&e.to_string());
                if give_up {
                    tracing::error!(%id, %to, attempts, error, "mail given up on");
                } else {
                    tracing::warn!(%id, %to, attempts, error, "mail not sent, will retry");
                }
                self.record_failure(&id, attempts, give_up, error, now)
                    .await?;
            }
        }
        Ok(true)
    }

    /// The condition of a message a worker may claim at `now`: pending and
    /// due, or claimed by a worker whose lease has lapsed.
    fn claimable(now: DateTime<Utc>) -> Condition {
        Condition::any()
            .add(
                Condition::all()
                    .add(Column::State.eq(MailState::Pending.as_str()))
                    .add(Column::NextAttemptAt.lte(now)),
            )
            .add(
                Condition::all()
                    .add(Column::State.eq(MailState::Sending.as_str()))
                    .add(Column::LockedUntil.lt(now)),
            )
    }

    /// Claims one message that is due at `now`: moves it to `sending` until
    /// `now + lease` and counts the attempt, in one conditional UPDATE that
    /// only one worker can win.
    async fn claim_next(&self, now: DateTime<Utc>) -> Result<Option<entity::Model>, MailError> {
        let candidates: Vec<String> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Self::claimable(now))
            .order_by_asc(Column::NextAttemptAt)
            .limit(CLAIM_CANDIDATES)
            .into_tuple()
            .all(&self.db)
            .await?;
        let until = later(now, self.settings.lease);
        for id in candidates {
            let claimed = Entity::update_many()
                .col_expr(Column::State, Expr::value(MailState::Sending.as_str()))
                .col_expr(Column::LockedUntil, Expr::value(Some(until)))
                .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
                .filter(Column::Id.eq(id.as_str()))
                // Checked again in the UPDATE itself: between the SELECT and
                // here another worker may have claimed the row.
                .filter(Self::claimable(now))
                .exec(&self.db)
                .await?;
            if claimed.rows_affected == 1 {
                return Ok(Entity::find_by_id(id).one(&self.db).await?);
            }
        }
        Ok(None)
    }

    /// Marks a claimed message sent and drops its bodies, which carry links
    /// and codes that no one needs once the transport has them.
    async fn record_sent(&self, id: &str, now: DateTime<Utc>) -> Result<(), MailError> {
        Entity::update_many()
            .col_expr(Column::State, Expr::value(MailState::Sent.as_str()))
            .col_expr(Column::SentAt, Expr::value(Some(now)))
            .col_expr(Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(Column::TextBody, Expr::value(""))
            .col_expr(Column::HtmlBody, Expr::value(""))
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(MailState::Sending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Puts a claimed message back in line after [`backoff`], or marks it
    /// failed, keeping the error.
    async fn record_failure(
        &self,
        id: &str,
        attempts: u32,
        give_up: bool,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<(), MailError> {
        let (state, next) = if give_up {
            (MailState::Failed, now)
        } else {
            (MailState::Pending, later(now, backoff(attempts)))
        };
        Entity::update_many()
            .col_expr(Column::State, Expr::value(state.as_str()))
            .col_expr(Column::NextAttemptAt, Expr::value(next))
            .col_expr(Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(Column::LastError, Expr::value(Some(error)))
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(MailState::Sending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Puts a failed message back in line, due now, with a fresh count of
    /// attempts. [`MailError::NotFound`] if no message has this id,
    /// [`MailError::NotRetryable`] if it has not failed.
    pub async fn retry(&self, id: &str) -> Result<(), MailError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(MailError::NotFound);
        }
        let now = self.now();
        let res = Entity::update_many()
            .col_expr(Column::State, Expr::value(MailState::Pending.as_str()))
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::NextAttemptAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(MailState::Failed.as_str()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            let state: Option<String> = Entity::find_by_id(id)
                .select_only()
                .column(Column::State)
                .into_tuple()
                .one(&self.db)
                .await?;
            return Err(match state {
                None => MailError::NotFound,
                Some(s) => MailError::NotRetryable(parse_state(&s)?),
            });
        }
        self.wake.notify_one();
        Ok(())
    }

    /// One message, without its bodies.
    pub async fn find(&self, id: &str) -> Result<Option<QueuedMail>, MailError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let row: Option<QueuedRow> = Self::select_listed()
            .filter(Column::Id.eq(id))
            .into_tuple()
            .one(&self.db)
            .await?;
        row.map(QueuedMail::from_row).transpose()
    }

    /// The most recent messages first, at most `limit`, in `state` if given;
    /// never their bodies.
    pub async fn list(
        &self,
        state: Option<MailState>,
        limit: u64,
    ) -> Result<Vec<QueuedMail>, MailError> {
        let mut q = Self::select_listed()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(limit);
        if let Some(state) = state {
            q = q.filter(Column::State.eq(state.as_str()));
        }
        let rows: Vec<QueuedRow> = q.into_tuple().all(&self.db).await?;
        rows.into_iter().map(QueuedMail::from_row).collect()
    }

    /// The columns of [`QueuedMail`]: the bodies are never read for operators.
    fn select_listed() -> sea_orm::Select<Entity> {
        Entity::find().select_only().columns([
            Column::Id,
            Column::Recipient,
            Column::Subject,
            Column::State,
            Column::Attempts,
            Column::NextAttemptAt,
            Column::LastError,
            Column::CreatedAt,
            Column::SentAt,
        ])
    }

    /// How many messages are in each state, and how old the oldest unsent one is.
    pub async fn summary(&self) -> Result<QueueSummary, MailError> {
        let counts: Vec<(String, i64)> = Entity::find()
            .select_only()
            .column(Column::State)
            .column_as(Column::Id.count(), "n")
            .group_by(Column::State)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut summary = QueueSummary::default();
        for (state, n) in counts {
            let n = u64::try_from(n).unwrap_or(0);
            match parse_state(&state)? {
                MailState::Pending => summary.pending = n,
                MailState::Sending => summary.sending = n,
                MailState::Sent => summary.sent = n,
                MailState::Failed => summary.failed = n,
            }
        }
        summary.oldest_unsent_at = Entity::find()
            .select_only()
            .column(Column::CreatedAt)
            .filter(Column::State.is_in([MailState::Pending.as_str(), MailState::Sending.as_str()]))
            .order_by_asc(Column::CreatedAt)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(summary)
    }
}

/// A stored state, which only this module writes.
fn parse_state(name: &str) -> Result<MailState, MailError> {
    MailState::parse(name)
        .ok_or_else(|| MailError::Database(DbErr::Custom(format!("unknown state {name:?}"))))
}

/// `now + d`, saturating instead of overflowing.
fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An error message short enough to store, cut on a character boundary.
fn truncate(message: &str) -> String {
    message.chars().take(MAX_ERROR_CHARS).collect()
}

#[cfg(test)]
mod tests;
