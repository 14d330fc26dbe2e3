//! The one way the domain crates open a transaction that writes.
//!
//! SQLite's default `BEGIN` is deferred: the transaction reads from a
//! snapshot and asks for the write lock only at its first write. If another
//! connection committed in between, that snapshot is stale and SQLite
//! refuses the write at once with "database is locked", however long the
//! busy timeout: under concurrent writers (a request and the mail worker, two
//! erasures) a check-then-change transaction would then fail as a 500.
//! `BEGIN IMMEDIATE` takes the write lock first, so the transaction waits
//! for it (up to the busy timeout) and then reads what it changes. Writers on
//! one SQLite file are serialised either way; PostgreSQL ignores the mode.

use sea_orm::{DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};

/// Begins a transaction that will write.
pub async fn write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
