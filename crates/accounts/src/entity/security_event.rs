//! The security log: what happened to an account's access, and from where.

use sea_orm::entity::prelude::*;

/// A row of `security_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The account concerned.
    pub account_id: i32,
    /// The local user who acted or was concerned, when not the holder.
    pub user_id: Option<i32>,
    /// What happened ([`crate::events::EventKind::as_str`]).
    pub kind: String,
    /// Details, never a secret.
    pub detail: String,
    /// Client IP, empty when not from a request.
    pub ip: String,
    /// Browser, empty when not from a request.
    pub user_agent: String,
    /// When.
    pub at: DateTimeUtc,
}

/// Relations of `security_events`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
