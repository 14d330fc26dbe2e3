//! `/admin/v1/mail`: what the mail queue holds, and putting a failed message
//! back in line. Bodies never appear: they carry verification links and codes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use mail::{MailState, QueueSummary, QueuedMail};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::AdminError;
use super::{AdminState, AuditNote};

/// Messages listed when the request does not say.
const DEFAULT_LIMIT: u64 = 50;
/// The most messages one request lists.
const MAX_LIMIT: u64 = 500;

/// The query of `GET /admin/v1/mail`, both parts optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// `pending`, `sending`, `sent` or `failed`.
    state: Option<String>,
    /// How many messages, most recent first.
    limit: Option<String>,
}

impl ListQuery {
    /// The state filter and the limit, or every problem with the query.
    fn parse(&self) -> Result<(Option<MailState>, u64), AdminError> {
        let mut errs = Vec::new();
        let state = match self.state.as_deref() {
            None | Some("") => None,
            Some(name) => MailState::parse(name).or_else(|| {
                errs.push(("state", "must be pending, sending, sent or failed".into()));
                None
            }),
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(n) => match n.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errs.push(("limit", format!("must be between 1 and {MAX_LIMIT}")));
                    DEFAULT_LIMIT
                }
            },
        };
        if errs.is_empty() {
            Ok((state, limit))
        } else {
            Err(AdminError::Invalid(errs))
        }
    }
}

/// A message as operators see it: where it stands, never its bodies.
fn message_json(m: &QueuedMail) -> Value {
    json!({
        "id": m.id,
        "recipient": m.recipient,
        "subject": m.subject,
        "state": m.state.as_str(),
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at.to_rfc3339(),
        "last_error": m.last_error,
        "created_at": m.created_at.to_rfc3339(),
        "sent_at": m.sent_at.map(|t| t.to_rfc3339()),
    })
}

/// The counts by state and the age of the oldest message not yet sent.
fn summary_json(s: &QueueSummary, now: chrono::DateTime<Utc>) -> Value {
    json!({
        "pending": s.pending,
        "sending": s.sending,
        "sent": s.sent,
        "failed": s.failed,
        "oldest_unsent_created_at": s.oldest_unsent_at.map(|t| t.to_rfc3339()),
        "oldest_unsent_age_secs": s.oldest_unsent_age(now).map(|d| d.as_secs()),
    })
}

/// `GET /admin/v1/mail?state=failed&limit=50`: the summary and the most
/// recent messages, in one state if asked.
pub(super) async fn list(
    State(s): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(query) =
        query.map_err(|e| AdminError::BadRequest(StatusCode::BAD_REQUEST, e.body_text()))?;
    let (state, limit) = query.parse()?;
    let summary = s.app.mail.summary().await?;
    let messages = s.app.mail.list(state, limit).await?;
    Ok(Json(json!({
        "summary": summary_json(&summary, s.app.clock.now()),
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
        "worker": { "idle_passes": s.app.mail.idle_passes() },
    }))
    .into_response())
}

/// `POST /admin/v1/mail/{message_id}/retry`: a failed message is due again
/// now, with a fresh count of attempts; 409 for a message that has not failed.
pub(super) async fn retry(
    State(s): State<AdminState>,
    Path(message_id): Path<String>,
) -> Result<Response, AdminError> {
    s.app.mail.retry(&message_id).await?;
    let m = s
        .app
        .mail
        .find(&message_id)
        .await?
        .ok_or(AdminError::MessageNotFound)?;
    let note = AuditNote {
        client_id: None,
        detail: Some(format!("message={}", m.id)),
    };
    Ok((Extension(note), Json(message_json(&m))).into_response())
}
