//! Local users of an account and the groups they belong to.
//!
//! The four default groups (NONE, UNPRIVILEGED, DEFAULT, ADMIN) are not rows:
//! every account has them implicitly, so they can be neither renamed nor
//! deleted. `user_groups` holds only the groups an account declares itself.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    AccountId,
    UserId,
    ClientId,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    UserId,
}

#[derive(DeriveIden)]
enum LocalUsers {
    Table,
    Id,
    AccountId,
    Login,
    Email,
    PasswordHash,
    GroupName,
    Description,
    Status,
    Subject,
    SessionEpochMs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserGroups {
    Table,
    Id,
    AccountId,
    Name,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LocalUsers::Table)
                    .col(pk_auto(LocalUsers::Id))
                    .col(integer(LocalUsers::AccountId))
                    // The user's ID within the account, lowercase, so that the
                    // unique index below makes it case-insensitive.
                    .col(string_len(LocalUsers::Login, 32))
                    .col(string_len(LocalUsers::Email, 254))
                    // Argon2id PHC string.
                    .col(string_len(LocalUsers::PasswordHash, 255))
                    .col(string_len(LocalUsers::GroupName, 32))
                    .col(string_len(LocalUsers::Description, 1024))
                    // `active` or `disabled`.
                    .col(string_len(LocalUsers::Status, 16))
                    // The user's own `sub` for relying parties.
                    .col(string_len(LocalUsers::Subject, 64).unique_key())
                    // Sessions of this user opened at or before this instant
                    // (Unix ms) are dead: a password change ends them.
                    .col(big_integer(LocalUsers::SessionEpochMs).default(0))
                    .col(timestamp_with_time_zone(LocalUsers::CreatedAt))
                    .col(timestamp_with_time_zone(LocalUsers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LocalUsers::Table, LocalUsers::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_local_users_account_login")
                    .table(LocalUsers::Table)
                    .col(LocalUsers::AccountId)
                    .col(LocalUsers::Login)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserGroups::Table)
                    .col(pk_auto(UserGroups::Id))
                    .col(integer(UserGroups::AccountId))
                    // Uppercase, like the default groups.
                    .col(string_len(UserGroups::Name, 32))
                    // `none`, `read_only`, `restricted` or `admin`.
                    .col(string_len(UserGroups::Role, 16))
                    .col(timestamp_with_time_zone(UserGroups::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserGroups::Table, UserGroups::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_groups_account_name")
                    .table(UserGroups::Table)
                    .col(UserGroups::AccountId)
                    .col(UserGroups::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A local user's consents and refresh tokens are their own, not the
        // holder's: 0 names the holder (a number, not NULL, so that the
        // unique index below holds for the holder too).
        manager
            .alter_table(
                Table::alter()
                    .table(Consents::Table)
                    .add_column(integer(Consents::UserId).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uq_consents_account_client")
                    .table(Consents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_consents_account_user_client")
                    .table(Consents::Table)
                    .col(Consents::AccountId)
                    .col(Consents::UserId)
                    .col(Consents::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(integer(RefreshTokens::UserId).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserGroups::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LocalUsers::Table).to_owned())
            .await
    }
}
