//! The support audit trail: what an operator did to an account, and why.

use sea_orm::entity::prelude::*;

/// A row of `support_actions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "support_actions")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// When.
    pub at: DateTimeUtc,
    /// The operator's name.
    pub operator: String,
    /// What was done (`promote_backup_email`, …).
    pub action: String,
    /// The account acted on.
    pub account_id: i32,
    /// The support case it answers.
    pub case_ref: String,
    /// What changed, never a secret.
    pub detail: String,
}

/// Relations of `support_actions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
