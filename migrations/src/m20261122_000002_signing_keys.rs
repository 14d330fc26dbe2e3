//! The identity provider's signing keys, private halves encrypted at rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    Kid,
    Alg,
    PrivateKey,
    PublicJwk,
    CreatedAt,
    ActivatesAt,
    RetiresAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(pk_auto(SigningKeys::Id))
                    // Relying parties pick the verification key by `kid`, so two rows
                    // must never share one.
                    .col(string_len_uniq(SigningKeys::Kid, 64))
                    .col(string_len(SigningKeys::Alg, 16))
                    // base64(nonce || AES-256-GCM ciphertext), never the key in clear.
                    .col(text(SigningKeys::PrivateKey))
                    .col(text(SigningKeys::PublicJwk))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone(SigningKeys::ActivatesAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiresAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signing_keys_alg")
                    .table(SigningKeys::Table)
                    .col(SigningKeys::Alg)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SigningKeys::Table).to_owned())
            .await
    }
}
