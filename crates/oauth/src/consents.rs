//! Remembered consent: an account's grant of scopes to a third-party client.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::OAuthError;

/// The `consents` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One account's consent to one client.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        /// Internal key.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The account.
        pub account_id: i32,
        /// The local user who consented; 0 for the holder.
        pub user_id: i32,
        /// The client.
        pub client_id: String,
        /// Granted scopes (JSON array).
        pub scopes: String,
        /// When last granted.
        pub granted_at: DateTimeUtc,
    }

    /// Relations of `consents`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

async fn find(
    db: &impl ConnectionTrait,
    account_id: i32,
    user_id: Option<i32>,
    client_id: &str,
) -> Result<Option<entity::Model>, OAuthError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::UserId.eq(user_id.unwrap_or(0)))
        .filter(entity::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

/// Whether the account (its holder, or the local user `user_id`) already granted every one of `scopes` to the client.
pub async fn covers(
    db: &impl ConnectionTrait,
    account_id: i32,
    user_id: Option<i32>,
    client_id: &str,
    scopes: &[String],
) -> Result<bool, OAuthError> {
    let Some(c) = find(db, account_id, user_id, client_id).await? else {
        return Ok(false);
    };
    let granted: Vec<String> = serde_json::from_str(&c.scopes).unwrap_or_default();
    Ok(scopes.iter().all(|s| granted.contains(s)))
}

/// Records a grant, adding to what was granted before.
pub async fn record(
    db: &impl ConnectionTrait,
    account_id: i32,
    user_id: Option<i32>,
    client_id: &str,
    scopes: &[String],
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    match find(db, account_id, user_id, client_id).await? {
        Some(c) => {
            let mut granted: Vec<String> = serde_json::from_str(&c.scopes).unwrap_or_default();
            for s in scopes {
                if !granted.contains(s) {
                    granted.push(s.clone());
                }
            }
            let mut row: entity::ActiveModel = c.into();
            row.scopes = Set(serde_json::to_string(&granted).unwrap_or_default());
            row.granted_at = Set(now);
            row.update(db).await?;
        }
        None => {
            let row = entity::ActiveModel {
                account_id: Set(account_id),
                user_id: Set(user_id.unwrap_or(0)),
                client_id: Set(client_id.to_owned()),
                scopes: Set(serde_json::to_string(scopes).unwrap_or_default()),
                granted_at: Set(now),
                ..Default::default()
            };
            if let Err(e) = row.insert(db).await {
                // Two tabs consenting at once: the other insert won, which
                // records the same grant.
                if !matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

/// Every consent of an account, newest first (the control panel's
/// "connected applications").
pub async fn list_for_account(
    db: &impl ConnectionTrait,
    account_id: i32,
) -> Result<Vec<entity::Model>, OAuthError> {
    use sea_orm::QueryOrder;
    Ok(entity::Entity::find()
        .filter(entity::Column::AccountId.eq(account_id))
        .order_by_desc(entity::Column::GrantedAt)
        .all(db)
        .await?)
}

/// Withdraws consent to a client; returns whether there was one. `only`
/// names the one person whose consent goes (0 for the holder); `None`
/// withdraws everyone's on the account (the holder's authority). The caller
/// revokes the matching tokens too.
pub async fn delete(
    db: &impl ConnectionTrait,
    account_id: i32,
    only: Option<i32>,
    client_id: &str,
) -> Result<bool, OAuthError> {
    let mut q = entity::Entity::delete_many()
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::ClientId.eq(client_id));
    if let Some(uid) = only {
        q = q.filter(entity::Column::UserId.eq(uid));
    }
    let res = q.exec(db).await?;
    Ok(res.rows_affected > 0)
}

/// Deletes every consent of an account (erasure).
pub async fn delete_all(db: &impl ConnectionTrait, account_id: i32) -> Result<(), OAuthError> {
    entity::Entity::delete_many()
        .filter(entity::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}
