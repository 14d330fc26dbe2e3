//! Relying parties registered by operators.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    ClientId,
    Name,
    Kind,
    AuthMethod,
    SecretHash,
    RedirectUris,
    PostLogoutRedirectUris,
    BackchannelLogoutUri,
    GrantTypes,
    Scopes,
    FirstParty,
    #[sea_orm(iden = "requires_2fa")]
    Requires2fa,
    AccessTokenTtlSecs,
    RefreshTokenTtlSecs,
    RefreshIdleTtlSecs,
    IdTokenAlg,
    Jwks,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(pk_auto(Clients::Id))
                    .col(string_len_uniq(Clients::ClientId, 64))
                    .col(string_len(Clients::Name, 200))
                    .col(string_len(Clients::Kind, 16))
                    .col(string_len(Clients::AuthMethod, 32))
                    // SHA-256 of the secret; the secret itself is shown once.
                    .col(string_len_null(Clients::SecretHash, 64))
                    // JSON arrays of strings.
                    .col(text(Clients::RedirectUris))
                    .col(text(Clients::PostLogoutRedirectUris))
                    .col(string_len_null(Clients::BackchannelLogoutUri, 2048))
                    .col(text(Clients::GrantTypes))
                    .col(text(Clients::Scopes))
                    .col(boolean(Clients::FirstParty).default(false))
                    .col(boolean(Clients::Requires2fa).default(false))
                    .col(integer(Clients::AccessTokenTtlSecs))
                    .col(integer(Clients::RefreshTokenTtlSecs))
                    .col(integer(Clients::RefreshIdleTtlSecs))
                    .col(string_len(Clients::IdTokenAlg, 8))
                    .col(text_null(Clients::Jwks))
                    .col(timestamp_with_time_zone(Clients::CreatedAt))
                    .col(timestamp_with_time_zone(Clients::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Clients::Table).to_owned())
            .await
    }
}
