//! The security side of the control panel: the security log, the holds other
//! systems put on an account (which stop its erasure), and the contacts of a
//! service handed to another customer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    AccountId,
    UserId,
    Kind,
    Detail,
    Ip,
    UserAgent,
    At,
}

#[derive(DeriveIden)]
enum AccountHolds {
    Table,
    Id,
    AccountId,
    Kind,
    Reference,
    Note,
    SetBy,
    SetAt,
}

#[derive(DeriveIden)]
enum ContactDelegations {
    Table,
    Id,
    FromAccountId,
    ToAccountId,
    Service,
    Role,
    Status,
    CreatedAt,
    AnsweredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(pk_auto(SecurityEvents::Id))
                    // No foreign key: the log of an erased account is deleted
                    // with its personal data, by the erasure itself.
                    .col(integer(SecurityEvents::AccountId))
                    // The local user who acted, when not the holder.
                    .col(integer_null(SecurityEvents::UserId))
                    .col(string_len(SecurityEvents::Kind, 48))
                    // What happened, never a secret.
                    .col(string_len(SecurityEvents::Detail, 255))
                    .col(string_len(SecurityEvents::Ip, 64))
                    .col(string_len(SecurityEvents::UserAgent, 255))
                    .col(timestamp_with_time_zone(SecurityEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_security_events_account_at")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::AccountId)
                    .col(SecurityEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_security_events_at")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountHolds::Table)
                    .col(pk_auto(AccountHolds::Id))
                    .col(integer(AccountHolds::AccountId))
                    // `open_services`, `unpaid_invoices` or another short code.
                    .col(string_len(AccountHolds::Kind, 32))
                    // The other system's reference (contract, invoice).
                    .col(string_len(AccountHolds::Reference, 128))
                    .col(string_len(AccountHolds::Note, 500))
                    // The operator token's name.
                    .col(string_len(AccountHolds::SetBy, 64))
                    .col(timestamp_with_time_zone(AccountHolds::SetAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_holds_account_kind")
                    .table(AccountHolds::Table)
                    .col(AccountHolds::AccountId)
                    .col(AccountHolds::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContactDelegations::Table)
                    .col(pk_auto(ContactDelegations::Id))
                    .col(integer(ContactDelegations::FromAccountId))
                    .col(integer(ContactDelegations::ToAccountId))
                    // The service's name as the customer wrote it.
                    .col(string_len(ContactDelegations::Service, 100))
                    // `administrative`, `technical` or `billing`.
                    .col(string_len(ContactDelegations::Role, 16))
                    // `pending`, `accepted`, `refused` or `cancelled`.
                    .col(string_len(ContactDelegations::Status, 16))
                    .col(timestamp_with_time_zone(ContactDelegations::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        ContactDelegations::AnsweredAt,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            (
                "idx_contact_delegations_from",
                ContactDelegations::FromAccountId,
            ),
            (
                "idx_contact_delegations_to",
                ContactDelegations::ToAccountId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ContactDelegations::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ContactDelegations::Table.into_iden(),
            AccountHolds::Table.into_iden(),
            SecurityEvents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
