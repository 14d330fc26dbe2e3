//! The password policy and Argon2id hashing.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use tokio::sync::Semaphore;

use crate::error::{AccountError, FieldProblem};
use crate::secret::Secret;

/// Common passwords refused whatever their length, lowercase, one a line.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Hard upper bound on a password, in bytes: anything longer is refused before
/// hashing so that a huge password cannot cost a hash's worth of CPU or memory.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Shortest piece of personal data looked for inside a password: shorter names
/// ("Al", "Li") would refuse too many good passwords by accident.
const MIN_PERSONAL_LEN: usize = 3;

/// What a new password must satisfy. No composition rules: length and the
/// common-password list do the work (NIST SP 800-63B).
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_chars: 12 }
    }
}

impl PasswordPolicy {
    /// Checks a new password against the policy. `personal` holds the holder's
    /// names, handle and email local part, none of which may appear in it.
    pub fn check(&self, password: &Secret, personal: &[&str]) -> Result<(), FieldProblem> {
        let pw = password.expose();
        if pw.len() > MAX_PASSWORD_BYTES {
            return Err(FieldProblem::PasswordTooLong {
                max_bytes: MAX_PASSWORD_BYTES,
            });
        }
        if pw.chars().count() < self.min_chars {
            return Err(FieldProblem::PasswordTooShort {
                min: self.min_chars,
            });
        }
        let lower = pw.to_lowercase();
        if COMMON.contains(lower.as_str()) {
            return Err(FieldProblem::PasswordCommon);
        }
        let contains_personal = personal.iter().any(|p| {
            let p = p.trim().to_lowercase();
            p.chars().count() >= MIN_PERSONAL_LEN && lower.contains(&p)
        });
        if contains_personal {
            return Err(FieldProblem::PasswordPersonal);
        }
        Ok(())
    }
}

/// Argon2id parameters.
#[derive(Clone, Copy, Debug)]
pub struct HashParams {
    /// Memory in KiB (OWASP minimum 19456).
    pub memory_kib: u32,
    /// Passes (OWASP minimum 2 at 19 MiB).
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

struct Inner {
    argon2: Argon2<'static>,
    permits: Semaphore,
    dummy_hash: String,
}

/// Hashes and verifies passwords on Tokio's blocking pool, at most `max_concurrent`
/// at once: each hash holds 19 MiB and a core for tens of milliseconds, so an
/// unbounded number would let a burst of logins exhaust memory.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

impl PasswordHasher {
    /// Builds a hasher. Computes one dummy hash now, so that checking a password
    /// for an unknown account costs the same as for a real one.
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self, AccountError> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| AccountError::Internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let dummy_hash = hash_blocking(&argon2, "guichet-dummy-password-for-timing")?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2,
                permits: Semaphore::new(max_concurrent.max(1)),
                dummy_hash,
            }),
        })
    }

    /// Hashes a password into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: &Secret) -> Result<String, AccountError> {
        let _permit = self.acquire().await?;
        let inner = self.inner.clone();
        let pw = password.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&inner.argon2, pw.expose()))
            .await
            .map_err(|e| AccountError::Internal(format!("hashing task: {e}")))?
    }

    /// Verifies a password against a stored hash. With `None` it verifies against
    /// the dummy hash and returns false, taking the same time as a real check.
    pub async fn verify(
        &self,
        password: &Secret,
        stored: Option<&str>,
    ) -> Result<bool, AccountError> {
        if password.expose().len() > MAX_PASSWORD_BYTES {
            // Never hash an oversized input; no stored password can be that long.
            return Ok(false);
        }
        let _permit = self.acquire().await?;
        let inner = self.inner.clone();
        let pw = password.clone();
        let is_real = stored.is_some();
        let hash = stored.map(str::to_owned);
        let ok = tokio::task::spawn_blocking(move || {
            let target = hash.as_deref().unwrap_or(&inner.dummy_hash);
            match PasswordHash::new(target) {
                Ok(parsed) => inner
                    .argon2
                    .verify_password(pw.expose().as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            }
        })
        .await
        .map_err(|e| AccountError::Internal(format!("hashing task: {e}")))?;
        Ok(ok && is_real)
    }

    async fn acquire(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AccountError> {
        self.inner
            .permits
            .acquire()
            .await
            .map_err(|_| AccountError::Internal("hash semaphore closed".into()))
    }
}

fn hash_blocking(argon2: &Argon2<'_>, password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Internal(format!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn length_is_counted_in_characters() {
        let p = policy();
        assert_eq!(
            p.check(&Secret::new("short-pw"), &[]),
            Err(FieldProblem::PasswordTooShort { min: 12 })
        );
        // Twelve characters, more bytes: accepted.
        assert!(p.check(&Secret::new("éàèùçôîêâûëï"), &[]).is_ok());
    }

    #[test]
    fn too_long_is_refused_by_bytes() {
        let long = Secret::new("a".repeat(1025));
        assert_eq!(
            policy().check(&long, &[]),
            Err(FieldProblem::PasswordTooLong { max_bytes: 1024 })
        );
        assert!(policy().check(&Secret::new("ab".repeat(512)), &[]).is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert_eq!(
            policy().check(&Secret::new("Password1234"), &[]),
            Err(FieldProblem::PasswordCommon)
        );
    }

    #[test]
    fn personal_data_is_refused() {
        let p = policy();
        assert_eq!(
            p.check(
                &Secret::new("my name is Dominique!"),
                &["dominique", "Martin"]
            ),
            Err(FieldProblem::PasswordPersonal)
        );
        assert_eq!(
            p.check(&Secret::new("xx dm429850-ovh xx"), &["dm429850-ovh"]),
            Err(FieldProblem::PasswordPersonal)
        );
        // Two-letter names are not searched for.
        assert!(
            p.check(&Secret::new("correct horse battery li"), &["Li"])
                .is_ok()
        );
    }

    #[test]
    fn no_composition_rules() {
        assert!(
            policy()
                .check(&Secret::new("correct horse battery staple"), &[])
                .is_ok()
        );
    }

    fn fast_hasher() -> PasswordHasher {
        PasswordHasher::new(
            HashParams {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = fast_hasher();
        let pw = Secret::new("correct horse battery staple");
        let stored = h.hash(&pw).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(h.verify(&pw, Some(&stored)).await.unwrap());
        assert!(
            !h.verify(&Secret::new("wrong"), Some(&stored))
                .await
                .unwrap()
        );
        // The dummy path never succeeds, even with the dummy's own password.
        assert!(
            !h.verify(&Secret::new("guichet-dummy-password-for-timing"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn default_parameters_are_owasp_or_stronger() {
        let h = PasswordHasher::new(HashParams::default(), 1).unwrap();
        let stored = h
            .hash(&Secret::new("correct horse battery staple"))
            .await
            .unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }
}
