//! Second factors: the methods a person registered (authenticator app, security
//! key, phone) and their emergency codes. Both tables are keyed by an opaque
//! identity string chosen by the server, not by an account id, so that one
//! machinery serves accounts and their local users alike; there is therefore no
//! foreign key, and the server deletes an identity's rows when it erases it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MfaMethods {
    Table,
    Id,
    Identity,
    Kind,
    Label,
    Status,
    Secret,
    Phone,
    Credential,
    CredentialId,
    LastStep,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum MfaRecoveryCodes {
    Table,
    Id,
    Identity,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MfaMethods::Table)
                    // A random UUID: method ids appear in URLs and forms, so they
                    // must not reveal how many methods exist.
                    .col(string_len(MfaMethods::Id, 36).primary_key())
                    .col(string_len(MfaMethods::Identity, 64))
                    // `totp`, `webauthn` or `sms`.
                    .col(string_len(MfaMethods::Kind, 16))
                    .col(string_len(MfaMethods::Label, 64))
                    // `pending` until the holder proves possession, then `active`.
                    .col(string_len(MfaMethods::Status, 16))
                    // The TOTP seed, sealed with the server's key.
                    .col(text_null(MfaMethods::Secret))
                    // E.164, for SMS.
                    .col(string_len_null(MfaMethods::Phone, 20))
                    // The WebAuthn credential (public key, counter) as JSON.
                    .col(text_null(MfaMethods::Credential))
                    // The WebAuthn credential id, base64url; unique across
                    // identities so that one key cannot be enrolled twice.
                    .col(string_len_null(MfaMethods::CredentialId, 1400))
                    // TOTP: the last accepted time step; WebAuthn: the last
                    // signature counter. Compared and set in one UPDATE.
                    .col(big_integer_null(MfaMethods::LastStep))
                    .col(timestamp_with_time_zone(MfaMethods::CreatedAt))
                    .col(timestamp_with_time_zone_null(MfaMethods::LastUsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_methods_identity")
                    .table(MfaMethods::Table)
                    .col(MfaMethods::Identity)
                    .to_owned(),
            )
            .await?;
        // NULLs do not collide in a unique index, on SQLite as on PostgreSQL.
        manager
            .create_index(
                Index::create()
                    .name("uq_mfa_methods_credential_id")
                    .table(MfaMethods::Table)
                    .col(MfaMethods::CredentialId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MfaRecoveryCodes::Table)
                    .col(pk_auto(MfaRecoveryCodes::Id))
                    .col(string_len(MfaRecoveryCodes::Identity, 64))
                    // SHA-256 of the normalised code; the code itself is shown once.
                    .col(string_len(MfaRecoveryCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(MfaRecoveryCodes::UsedAt))
                    .col(timestamp_with_time_zone(MfaRecoveryCodes::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_recovery_codes_identity")
                    .table(MfaRecoveryCodes::Table)
                    .col(MfaRecoveryCodes::Identity)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MfaRecoveryCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MfaMethods::Table).to_owned())
            .await
    }
}
