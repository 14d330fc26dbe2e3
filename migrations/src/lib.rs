//! Guichet's schema, one append-only migration per change. Migrations describe
//! tables with their own identifiers and never import the domain crates' entities,
//! so an old migration keeps meaning what it meant when it shipped.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts;
mod m20261122_000002_signing_keys;
mod m20261122_000003_clients;
mod m20261122_000004_consents;
mod m20261122_000005_refresh_tokens;
mod m20261122_000006_mfa;
mod m20261201_000007_mail_queue;
mod m20261201_000008_recovery;
mod m20261201_000009_profile;
mod m20261201_000010_panel_security;
mod m20261201_000011_local_users;
mod m20261206_000012_introspection_rights;

/// Runs every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_signing_keys::Migration),
            Box::new(m20261122_000003_clients::Migration),
            Box::new(m20261122_000004_consents::Migration),
            Box::new(m20261122_000005_refresh_tokens::Migration),
            Box::new(m20261122_000006_mfa::Migration),
            Box::new(m20261201_000007_mail_queue::Migration),
            Box::new(m20261201_000008_recovery::Migration),
            Box::new(m20261201_000009_profile::Migration),
            Box::new(m20261201_000010_panel_security::Migration),
            Box::new(m20261201_000011_local_users::Migration),
            Box::new(m20261206_000012_introspection_rights::Migration),
        ]
    }
}
