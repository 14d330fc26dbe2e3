//! Refresh tokens (RFC 9700 §4.14.2): bound to a client and to the scopes of
//! their grant, rotated on every use; a token used twice reveals a leak, so the
//! whole family it belongs to is revoked.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use sha2::{Digest, Sha256};

use crate::clients::Client;
use crate::error::OAuthError;
use crate::tokens::new_jti;

/// The `refresh_tokens` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One refresh token of a family.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        /// Internal key.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Hex SHA-256 of the token.
        #[sea_orm(unique)]
        pub token_hash: String,
        /// Every rotation of one grant shares this.
        pub family_id: String,
        /// The client it was issued to.
        pub client_id: String,
        /// The account.
        pub account_id: i32,
        /// The local user the grant is for; 0 for the holder.
        pub user_id: i32,
        /// Granted scopes (JSON array).
        pub scopes: String,
        /// Unix time of the original authentication.
        pub auth_time: i64,
        /// Methods of the original authentication (JSON array).
        pub amr: String,
        /// Context class of the original authentication.
        pub acr: String,
        /// Session of the original authentication.
        pub sid: String,
        /// When this token was issued.
        pub created_at: DateTimeUtc,
        /// Dead if unused until then.
        pub idle_expires_at: DateTimeUtc,
        /// Dead then whatever happens (the family's absolute end).
        pub expires_at: DateTimeUtc,
        /// Set when rotated.
        pub used_at: Option<DateTimeUtc>,
        /// Set when revoked.
        pub revoked_at: Option<DateTimeUtc>,
    }

    /// Relations of `refresh_tokens`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stored refresh token.
pub type RefreshToken = entity::Model;

/// What a new family starts from.
pub struct Grant<'a> {
    /// The account.
    pub account_id: i32,
    /// The local user, when not the holder.
    pub user_id: Option<i32>,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// Original authentication time.
    pub auth_time: i64,
    /// Original methods.
    pub amr: &'a [String],
    /// Original context class.
    pub acr: &'a str,
    /// Original session.
    pub sid: &'a str,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    // Two 128-bit identifiers: 256 bits from the CSPRNG.
    format!("{}{}", new_jti(), new_jti())
}

/// Starts a family: the first refresh token of a grant.
pub async fn issue(
    db: &impl ConnectionTrait,
    client: &Client,
    grant: Grant<'_>,
    now: DateTime<Utc>,
) -> Result<(String, RefreshToken), OAuthError> {
    let token = new_token();
    let row = entity::ActiveModel {
        token_hash: Set(hash(&token)),
        family_id: Set(new_jti()),
        client_id: Set(client.client_id.clone()),
        account_id: Set(grant.account_id),
        user_id: Set(grant.user_id.unwrap_or(0)),
        scopes: Set(serde_json::to_string(grant.scopes).unwrap_or_default()),
        auth_time: Set(grant.auth_time),
        amr: Set(serde_json::to_string(grant.amr).unwrap_or_default()),
        acr: Set(grant.acr.to_owned()),
        sid: Set(grant.sid.to_owned()),
        created_at: Set(now),
        idle_expires_at: Set(now + Duration::seconds(i64::from(client.refresh_idle_ttl_secs))),
        expires_at: Set(now + Duration::seconds(i64::from(client.refresh_token_ttl_secs))),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((token, row))
}

/// Finds a live token by its value, for introspection.
pub async fn find_live(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<RefreshToken>, OAuthError> {
    let row = entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?;
    Ok(row.filter(|r| {
        r.used_at.is_none()
            && r.revoked_at.is_none()
            && r.expires_at > now
            && r.idle_expires_at > now
    }))
}

/// Revokes every token of a family.
pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(Some(now)))
        .filter(entity::Column::FamilyId.eq(family_id))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every refresh token of an account (password change, sign out everywhere).
pub async fn revoke_account(
    db: &impl ConnectionTrait,
    account_id: i32,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(Some(now)))
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes the refresh tokens of one local user of an account (the user
/// disabled, removed or signed out everywhere), at every client or at one.
pub async fn revoke_user(
    db: &impl ConnectionTrait,
    account_id: i32,
    user_id: i32,
    client_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let mut q = entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(Some(now)))
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::UserId.eq(user_id))
        .filter(entity::Column::RevokedAt.is_null());
    if let Some(c) = client_id {
        q = q.filter(entity::Column::ClientId.eq(c));
    }
    q.exec(db).await?;
    Ok(())
}

/// Revokes every refresh token one client holds for an account (consent
/// withdrawn).
pub async fn revoke_client(
    db: &impl ConnectionTrait,
    account_id: i32,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::RevokedAt, Expr::value(Some(now)))
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::ClientId.eq(client_id))
        .filter(entity::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The sessions (`sid`) and clients of an account's live refresh tokens, for
/// the back-channel logouts of an erasure.
pub async fn live_sessions(
    db: &impl ConnectionTrait,
    account_id: i32,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, OAuthError> {
    let rows = entity::Entity::find()
        .filter(entity::Column::AccountId.eq(account_id))
        .filter(entity::Column::RevokedAt.is_null())
        .filter(entity::Column::UsedAt.is_null())
        .filter(entity::Column::ExpiresAt.gt(now))
        .all(db)
        .await?;
    let mut out: Vec<(String, String)> = rows.into_iter().map(|r| (r.sid, r.client_id)).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Revokes the family of a token presented by its client (RFC 7009). Returns
/// whether the token was found: a token of another client is not revoked.
pub async fn revoke_by_token(
    db: &impl ConnectionTrait,
    client_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<bool>, OAuthError> {
    let Some(row) = entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.client_id != client_id {
        return Ok(Some(false));
    }
    revoke_family(db, &row.family_id, now).await?;
    Ok(Some(true))
}

/// Uses a refresh token: marks it used and issues its successor in the same
/// family, in one transaction. A token already used or revoked is a replay:
/// the family is revoked. Of concurrent uses of one token exactly one wins.
pub async fn rotate(
    db: &DatabaseConnection,
    client: &Client,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<(String, RefreshToken), OAuthError> {
    let invalid = || OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked");
    let Some(row) = entity::Entity::find()
        .filter(entity::Column::TokenHash.eq(hash(presented)))
        .one(db)
        .await?
    else {
        return Err(invalid());
    };
    if row.client_id != client.client_id {
        return Err(invalid());
    }
    if row.used_at.is_some() || row.revoked_at.is_some() {
        if row.used_at.is_some() {
            tracing::warn!(client_id = %client.client_id, "refresh token reused; revoking its family");
        }
        revoke_family(db, &row.family_id, now).await?;
        return Err(invalid());
    }
    if row.expires_at <= now || row.idle_expires_at <= now {
        return Err(invalid());
    }
    let txn = dbtx::write(db).await?;
    let res = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(Some(now)))
        .filter(entity::Column::Id.eq(row.id))
        .filter(entity::Column::UsedAt.is_null())
        .filter(entity::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        // Another request used it a moment ago: this one is the replay.
        revoke_family(db, &row.family_id, now).await?;
        return Err(invalid());
    }
    let token = new_token();
    let idle = now + Duration::seconds(i64::from(client.refresh_idle_ttl_secs));
    let next = entity::ActiveModel {
        token_hash: Set(hash(&token)),
        family_id: Set(row.family_id.clone()),
        client_id: Set(row.client_id.clone()),
        account_id: Set(row.account_id),
        user_id: Set(row.user_id),
        scopes: Set(row.scopes.clone()),
        auth_time: Set(row.auth_time),
        amr: Set(row.amr.clone()),
        acr: Set(row.acr.clone()),
        sid: Set(row.sid.clone()),
        created_at: Set(now),
        idle_expires_at: Set(idle.min(row.expires_at)),
        expires_at: Set(row.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((token, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{ClientSpec, create};
    use migration::{Migrator, MigratorTrait};
    use sea_orm::Database;

    async fn setup() -> (sea_orm::DatabaseConnection, Client, i32) {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO accounts (subject, handle, customer_code, first_name, last_name, primary_email_verified, country, language, kind, status, created_at, updated_at) \
             VALUES ('s', 'xx10000-ovh', '1000-000-00', 'A', 'B', false, 'FR', 'en', 'individual', 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .await
        .unwrap();
        let spec = ClientSpec {
            redirect_uris: vec!["https://rp.example.com/cb".into()],
            refresh_idle_ttl_secs: 3600,
            refresh_token_ttl_secs: 7200,
            ..ClientSpec::named("RP")
        };
        let (client, _) = create(&db, &spec, Utc::now()).await.unwrap();
        (db, client, 1)
    }

    fn grant(scopes: &[String]) -> Grant<'_> {
        Grant {
            account_id: 1,
            user_id: None,
            scopes,
            auth_time: 0,
            amr: &[],
            acr: "pwd",
            sid: "sid",
        }
    }

    #[tokio::test]
    async fn rotation_and_reuse_detection() {
        let (db, client, _) = setup().await;
        let scopes = vec!["openid".to_owned()];
        let now = Utc::now();
        let (t1, _) = issue(&db, &client, grant(&scopes), now).await.unwrap();
        let (t2, _) = rotate(&db, &client, &t1, now).await.unwrap();
        assert_ne!(t1, t2);
        // Replaying t1 fails and revokes the family, t2 included.
        assert!(rotate(&db, &client, &t1, now).await.is_err());
        assert!(rotate(&db, &client, &t2, now).await.is_err());
        assert!(find_live(&db, &t2, now).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn idle_and_absolute_lifetimes() {
        let (db, client, _) = setup().await;
        let scopes = vec!["openid".to_owned()];
        let now = Utc::now();
        let (t1, _) = issue(&db, &client, grant(&scopes), now).await.unwrap();
        assert!(
            rotate(&db, &client, &t1, now + Duration::seconds(3601))
                .await
                .is_err(),
            "idle"
        );
        let (t1, _) = issue(&db, &client, grant(&scopes), now).await.unwrap();
        let (t2, _) = rotate(&db, &client, &t1, now + Duration::seconds(3000))
            .await
            .unwrap();
        let (t3, row) = rotate(&db, &client, &t2, now + Duration::seconds(6000))
            .await
            .unwrap();
        assert_eq!(
            row.idle_expires_at, row.expires_at,
            "idle never outlives the family"
        );
        assert!(
            rotate(&db, &client, &t3, now + Duration::seconds(7201))
                .await
                .is_err(),
            "absolute"
        );
    }

    #[tokio::test]
    async fn tokens_are_bound_to_their_client() {
        let (db, client, _) = setup().await;
        let (other, _) = create(
            &db,
            &ClientSpec {
                redirect_uris: vec!["https://other.example.com/cb".into()],
                ..ClientSpec::named("Other")
            },
            Utc::now(),
        )
        .await
        .unwrap();
        let scopes = vec!["openid".to_owned()];
        let now = Utc::now();
        let (t1, _) = issue(&db, &client, grant(&scopes), now).await.unwrap();
        assert!(rotate(&db, &other, &t1, now).await.is_err());
        assert_eq!(
            revoke_by_token(&db, &other.client_id, &t1, now)
                .await
                .unwrap(),
            Some(false)
        );
        assert!(
            rotate(&db, &client, &t1, now).await.is_ok(),
            "the other client's attempt changed nothing"
        );
    }
}
