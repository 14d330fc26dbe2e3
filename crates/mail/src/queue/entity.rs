//! The `mail_queue` table as a sea-orm entity.

use sea_orm::entity::prelude::*;

/// A row of `mail_queue`: one message and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_queue")]
pub struct Model {
    /// A random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The `To:` of the message.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text alternative; emptied once sent.
    pub text_body: String,
    /// The HTML alternative; emptied once sent.
    pub html_body: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    /// How many times a worker claimed the message to send it.
    pub attempts: i32,
    /// When a `pending` message is due.
    pub next_attempt_at: DateTimeUtc,
    /// While `sending`: when the claim lapses.
    pub locked_until: Option<DateTimeUtc>,
    /// The transport's last refusal, never the body.
    pub last_error: Option<String>,
    /// When the message was queued.
    pub created_at: DateTimeUtc,
    /// When the transport accepted it.
    pub sent_at: Option<DateTimeUtc>,
}

/// Relations of `mail_queue`: none.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
