//! Accounts and primary-email verification links.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Subject,
    Handle,
    CustomerCode,
    FirstName,
    LastName,
    PrimaryEmail,
    PrimaryEmailLower,
    PrimaryEmailVerified,
    BackupEmail,
    PasswordHash,
    Country,
    Language,
    Kind,
    CompanyName,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EmailVerifications {
    Table,
    Id,
    AccountId,
    Email,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(pk_auto(Accounts::Id))
                    .col(string_len_uniq(Accounts::Subject, 64))
                    // Handles stay after erasure (a tombstone row), so the unique
                    // index also guarantees a handle is never given out twice.
                    .col(string_len_uniq(Accounts::Handle, 40))
                    .col(string_len_uniq(Accounts::CustomerCode, 16))
                    .col(string_len(Accounts::FirstName, 200))
                    .col(string_len(Accounts::LastName, 200))
                    .col(string_len_null(Accounts::PrimaryEmail, 254))
                    .col(string_len_null(Accounts::PrimaryEmailLower, 254).unique_key())
                    .col(boolean(Accounts::PrimaryEmailVerified).default(false))
                    .col(string_len_null(Accounts::BackupEmail, 254))
                    .col(string_len_null(Accounts::PasswordHash, 255))
                    .col(string_len(Accounts::Country, 2))
                    .col(string_len(Accounts::Language, 8))
                    .col(string_len(Accounts::Kind, 16))
                    .col(string_len_null(Accounts::CompanyName, 400))
                    .col(string_len(Accounts::Status, 16))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailVerifications::Table)
                    .col(pk_auto(EmailVerifications::Id))
                    .col(integer(EmailVerifications::AccountId))
                    .col(string_len(EmailVerifications::Email, 254))
                    .col(string_len_uniq(EmailVerifications::TokenHash, 64))
                    .col(timestamp_with_time_zone(EmailVerifications::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailVerifications::UsedAt))
                    .col(timestamp_with_time_zone(EmailVerifications::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_verifications_account")
                            .from(EmailVerifications::Table, EmailVerifications::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_verifications_account")
                    .table(EmailVerifications::Table)
                    .col(EmailVerifications::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailVerifications::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}
