//! The control panel's profile and primary-email change: postal address and
//! phone on `accounts`, and `email_changes`, the pending changes of primary
//! address (one per account) with the hash of the code they wait for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    AddressLine1,
    AddressLine2,
    Postcode,
    City,
    Region,
    Phone,
}

#[derive(DeriveIden)]
enum EmailChanges {
    Table,
    Id,
    AccountId,
    NewEmail,
    Stage,
    CodeHash,
    WrongTries,
    CodeExpiresAt,
    ExpiresAt,
    CreatedAt,
}

/// The new columns of `accounts`, all optional.
fn profile_columns() -> [(Accounts, u32); 6] {
    [
        (Accounts::AddressLine1, 100),
        (Accounts::AddressLine2, 100),
        (Accounts::Postcode, 12),
        (Accounts::City, 100),
        (Accounts::Region, 100),
        (Accounts::Phone, 16),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for (col, len) in profile_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .add_column(string_len_null(col, len))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(EmailChanges::Table)
                    .col(pk_auto(EmailChanges::Id))
                    // One pending change per account: starting a new one
                    // replaces the old.
                    .col(integer(EmailChanges::AccountId).unique_key())
                    .col(string_len(EmailChanges::NewEmail, 254))
                    // `current` (the code went to the current address) or
                    // `new` (the second code went to the new one).
                    .col(string_len(EmailChanges::Stage, 16))
                    // nonce:SHA-256 of the code awaited; never the code.
                    .col(string_len(EmailChanges::CodeHash, 160))
                    .col(integer(EmailChanges::WrongTries).default(0))
                    .col(timestamp_with_time_zone(EmailChanges::CodeExpiresAt))
                    .col(timestamp_with_time_zone(EmailChanges::ExpiresAt))
                    .col(timestamp_with_time_zone(EmailChanges::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailChanges::Table, EmailChanges::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailChanges::Table).to_owned())
            .await?;
        for (col, _) in profile_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
