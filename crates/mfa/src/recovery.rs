//! Emergency codes: ten single-use codes for the day every other second
//! factor is lost.

use rand::Rng;
use rand::rngs::OsRng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::MfaError;
use crate::entity::recovery_code;
use crate::service::{Mfa, delete_recovery_codes};
use crate::text::{check_identity, sha256_hex};

/// Codes per set.
const CODES: usize = 10;
/// Characters per code, before the dashes.
const CODE_CHARS: usize = 16;
/// Lowercase letters and digits without the look-alikes `0 o 1 i l`: 31
/// symbols, so 16 of them carry about 79 bits.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// One fresh code, shown as four groups of four: `ab3k-9xq2-mf7p-2hzt`.
fn new_code() -> String {
    let chars: Vec<char> = (0..CODE_CHARS)
        .map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|g| g.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// What is hashed: the code without spaces or dashes, lowercase, so that
/// `AB3K 9XQ2 MF7P 2HZT` matches.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn hash(code: &str) -> String {
    sha256_hex(normalise(code).as_bytes())
}

impl Mfa {
    /// Makes a new set of ten emergency codes, voiding any previous set.
    /// Returns them for showing once; only their SHA-256 is stored.
    #[tracing::instrument(skip(self))]
    pub async fn recovery_generate(&self, identity: &str) -> Result<Vec<String>, MfaError> {
        let identity = check_identity(identity)?;
        let codes: Vec<String> = (0..CODES).map(|_| new_code()).collect();
        let now = self.now();
        let txn = dbtx::write(self.db()).await?;
        delete_recovery_codes(&txn, identity).await?;
        recovery_code::Entity::insert_many(codes.iter().map(|c| recovery_code::ActiveModel {
            identity: Set(identity.to_owned()),
            code_hash: Set(hash(c)),
            used_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }))
        .exec(&txn)
        .await?;
        txn.commit().await?;
        tracing::info!("emergency codes generated");
        Ok(codes)
    }

    /// Uses up one emergency code. Case, spaces and dashes do not matter.
    /// Single use is one conditional UPDATE (`WHERE used_at IS NULL`), so two
    /// parallel requests with one code cannot both pass.
    #[tracing::instrument(skip(self, code))]
    pub async fn recovery_consume(&self, identity: &str, code: &str) -> Result<bool, MfaError> {
        let identity = check_identity(identity)?;
        let normalised = normalise(code);
        if normalised.len() != CODE_CHARS {
            return Ok(false);
        }
        let res = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(self.now())))
            .filter(recovery_code::Column::Identity.eq(identity))
            .filter(recovery_code::Column::CodeHash.eq(hash(&normalised)))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(self.db())
            .await?;
        let used = res.rows_affected > 0;
        if used {
            tracing::info!("emergency code used");
        }
        Ok(used)
    }

    /// How many emergency codes are left unused.
    pub async fn recovery_remaining(&self, identity: &str) -> Result<usize, MfaError> {
        let identity = check_identity(identity)?;
        let n = recovery_code::Entity::find()
            .filter(recovery_code::Column::Identity.eq(identity))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(self.db())
            .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Deletes every emergency code of the identity.
    pub async fn recovery_delete(&self, identity: &str) -> Result<(), MfaError> {
        let identity = check_identity(identity)?;
        delete_recovery_codes(self.db(), identity).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_right() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), 19, "{c}");
            let groups: Vec<_> = c.split('-').collect();
            assert_eq!(groups.len(), 4, "{c}");
            assert!(groups.iter().all(|g| g.len() == 4));
            assert!(normalise(&c).bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        }
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn alphabet_has_no_look_alikes_and_enough_entropy() {
        for b in b"01ilo" {
            assert!(!ALPHABET.contains(b));
        }
        let bits = (ALPHABET.len() as f64).log2() * CODE_CHARS as f64;
        assert!(bits >= 64.0, "{bits}");
    }

    #[test]
    fn normalisation_ignores_case_spaces_and_dashes() {
        assert_eq!(hash("AB3K 9XQ2-mf7p2hzt"), hash("ab3k-9xq2-mf7p-2hzt"));
    }
}
