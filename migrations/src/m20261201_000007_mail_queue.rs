//! The outgoing mail queue: every message is written here first and sent by a
//! worker, so that a mail server that is down or slow loses nothing and holds
//! up no request. Several replicas share the table; a worker claims a row with
//! one conditional UPDATE before sending it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailQueue {
    Table,
    Id,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    State,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailQueue::Table)
                    // A random UUID: message ids appear in operator URLs.
                    .col(string_len(MailQueue::Id, 36).primary_key())
                    .col(string_len(MailQueue::Recipient, 320))
                    .col(text(MailQueue::Subject))
                    // Both bodies are emptied once the message is sent: they
                    // carry verification links and codes.
                    .col(text(MailQueue::TextBody))
                    .col(text(MailQueue::HtmlBody))
                    // `pending`, `sending`, `sent` or `failed`.
                    .col(string_len(MailQueue::State, 16))
                    .col(integer(MailQueue::Attempts))
                    .col(timestamp_with_time_zone(MailQueue::NextAttemptAt))
                    // While `sending`: when the claim lapses and another
                    // worker may take the message over.
                    .col(timestamp_with_time_zone_null(MailQueue::LockedUntil))
                    // The transport's last refusal; never the body.
                    .col(text_null(MailQueue::LastError))
                    .col(timestamp_with_time_zone(MailQueue::CreatedAt))
                    .col(timestamp_with_time_zone_null(MailQueue::SentAt))
                    .to_owned(),
            )
            .await?;
        // The worker's "what is due" query filters on the state and orders by
        // the next attempt.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_queue_due")
                    .table(MailQueue::Table)
                    .col(MailQueue::State)
                    .col(MailQueue::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // Operators list the most recent messages first.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_queue_created_at")
                    .table(MailQueue::Table)
                    .col(MailQueue::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailQueue::Table).to_owned())
            .await
    }
}
