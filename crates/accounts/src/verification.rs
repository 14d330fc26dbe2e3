//! Email verification links: a random token mailed to an address, its hash stored.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::entity::email_verification;
use crate::error::AccountError;
use crate::secret::Secret;

/// How long a verification link works. A week: people open welcome mail late.
pub const LINK_LIFETIME: Duration = Duration::days(7);

/// A new random token: 256 bits from the operating system's CSPRNG, hex-encoded.
pub fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

/// The stored form of a token.
pub fn token_hash(token: &Secret) -> String {
    hex::encode(Sha256::digest(token.expose().as_bytes()))
}

/// Stores a new link for `email` (lowercase) and returns its token.
pub async fn create(
    db: &impl ConnectionTrait,
    account_id: i32,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Secret, AccountError> {
    let token = new_token();
    email_verification::ActiveModel {
        account_id: Set(account_id),
        email: Set(email.to_owned()),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + LINK_LIFETIME),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Marks a link used and returns it, or `None` when it is unknown, used or
/// expired. The update is conditional on `used_at IS NULL`, so it is single use
/// even under concurrent clicks.
pub async fn consume(
    db: &impl ConnectionTrait,
    token: &Secret,
    now: DateTime<Utc>,
) -> Result<Option<email_verification::Model>, AccountError> {
    let hash = token_hash(token);
    let Some(link) = email_verification::Entity::find()
        .filter(email_verification::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if link.used_at.is_some() || link.expires_at <= now {
        return Ok(None);
    }
    let res = email_verification::Entity::update_many()
        .col_expr(email_verification::Column::UsedAt, Expr::value(Some(now)))
        .filter(email_verification::Column::Id.eq(link.id))
        .filter(email_verification::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a.expose());
    }
}
