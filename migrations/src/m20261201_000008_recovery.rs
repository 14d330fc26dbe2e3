//! Recovery and login risk: password-reset links, the password history, the
//! devices an account logged in from, per-account notification and
//! "set a new backup email" flags, and the support audit trail.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    LoginNotifications,
    MustSetBackup,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    AccountId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum PasswordHistory {
    Table,
    Id,
    AccountId,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KnownDevices {
    Table,
    Id,
    AccountId,
    DeviceHash,
    UserAgent,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum SupportActions {
    Table,
    Id,
    At,
    Operator,
    Action,
    AccountId,
    CaseRef,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(boolean(Accounts::LoginNotifications).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    // Set when support promoted the backup address: the account
                    // must name a new backup before doing anything else.
                    .add_column(boolean(Accounts::MustSetBackup).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .col(pk_auto(PasswordResets::Id))
                    .col(integer(PasswordResets::AccountId))
                    // SHA-256 of the 256-bit token mailed: the database alone
                    // cannot reset anyone's password.
                    .col(string_len(PasswordResets::TokenHash, 64).unique_key())
                    .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResets::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PasswordResets::Table, PasswordResets::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_password_resets_account")
                    .table(PasswordResets::Table)
                    .col(PasswordResets::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordHistory::Table)
                    .col(pk_auto(PasswordHistory::Id))
                    .col(integer(PasswordHistory::AccountId))
                    // Argon2id PHC strings of earlier passwords, for "not one
                    // of the last five".
                    .col(string_len(PasswordHistory::PasswordHash, 255))
                    .col(timestamp_with_time_zone(PasswordHistory::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PasswordHistory::Table, PasswordHistory::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_password_history_account")
                    .table(PasswordHistory::Table)
                    .col(PasswordHistory::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnownDevices::Table)
                    .col(pk_auto(KnownDevices::Id))
                    .col(integer(KnownDevices::AccountId))
                    // SHA-256 of the device cookie.
                    .col(string_len(KnownDevices::DeviceHash, 64))
                    .col(string_len(KnownDevices::UserAgent, 255))
                    .col(timestamp_with_time_zone(KnownDevices::CreatedAt))
                    .col(timestamp_with_time_zone(KnownDevices::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KnownDevices::Table, KnownDevices::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_known_devices_account_device")
                    .table(KnownDevices::Table)
                    .col(KnownDevices::AccountId)
                    .col(KnownDevices::DeviceHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SupportActions::Table)
                    .col(pk_auto(SupportActions::Id))
                    .col(timestamp_with_time_zone(SupportActions::At))
                    .col(string_len(SupportActions::Operator, 64))
                    .col(string_len(SupportActions::Action, 64))
                    .col(integer(SupportActions::AccountId))
                    // The support ticket the action answers.
                    .col(string_len(SupportActions::CaseRef, 64))
                    // What changed, never a secret.
                    .col(text(SupportActions::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_support_actions_account")
                    .table(SupportActions::Table)
                    .col(SupportActions::AccountId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SupportActions::Table.into_iden(),
            KnownDevices::Table.into_iden(),
            PasswordHistory::Table.into_iden(),
            PasswordResets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::MustSetBackup)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::LoginNotifications)
                    .to_owned(),
            )
            .await
    }
}
