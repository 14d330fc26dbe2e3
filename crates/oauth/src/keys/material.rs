//! Key material: generation, storage form, public JWKs, and the raw JWS
//! signature operations for each algorithm.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKeyId;
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey};
use rand::RngCore as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::alg::SigningAlg;
use crate::error::OAuthError;

/// RSA modulus size. 2048 bits is what RFC 7518 requires at least and what every
/// relying party handles; larger keys only slow signing down.
const RSA_BITS: usize = 2048;

/// A decrypted private key, ready to sign.
///
/// Two views of one key: the RustCrypto types generate keys and export their
/// PKCS#8 and JWK forms; `ring` signs, because its constant-time, assembly
/// P-256 and RSA are several times faster on the token path (and its RSA is not
/// exposed to RUSTSEC-2023-0071).
pub(crate) struct PrivateKey {
    material: Material,
    signer: FastSigner,
}

enum Material {
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

enum FastSigner {
    Rs256(::ring::rsa::KeyPair),
    Es256(::ring::signature::EcdsaKeyPair),
    EdDsa(::ring::signature::Ed25519KeyPair),
}

/// The public half of a key, ready to verify. RS256 and ES256 go through
/// `ring` for speed; EdDSA stays with ed25519-dalek for its strict checks.
pub(crate) enum PublicKey {
    Rs256(::ring::signature::RsaPublicKeyComponents<Vec<u8>>),
    Es256(::ring::signature::UnparsedPublicKey<Vec<u8>>),
    EdDsa(ed25519_dalek::VerifyingKey),
}

/// A random 128-bit key id, base64url: unguessable and short enough for headers.
pub(crate) fn new_kid() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl PrivateKey {
    /// A new key from the operating system's CSPRNG. RSA generation takes tens of
    /// milliseconds or more: call it off the async threads.
    pub(crate) fn generate(alg: SigningAlg) -> Result<Self, OAuthError> {
        let mut rng = rand::rngs::OsRng;
        match alg {
            SigningAlg::Rs256 => {
                let key = RsaPrivateKey::new(&mut rng, RSA_BITS)
                    .map_err(|e| OAuthError::Internal(format!("RSA key generation: {e}")))?;
                Material::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(key))).ready()
            }
            SigningAlg::Es256 => {
                // Rejection sampling: a 32-byte string is a valid scalar unless it
                // is zero or not below the group order, which has probability
                // about 2^-32; the bound only guards against a broken RNG.
                for _ in 0..64 {
                    let mut bytes = Zeroizing::new([0u8; 32]);
                    rng.fill_bytes(bytes.as_mut());
                    if let Ok(key) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                        return Material::Es256(key).ready();
                    }
                }
                Err(OAuthError::Internal(
                    "P-256 key generation found no valid scalar".to_owned(),
                ))
            }
            SigningAlg::EdDsa => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut());
                Material::EdDsa(ed25519_dalek::SigningKey::from_bytes(&seed)).ready()
            }
        }
    }

    /// The algorithm this key signs with.
    pub(crate) fn alg(&self) -> SigningAlg {
        match &self.material {
            Material::Rs256(_) => SigningAlg::Rs256,
            Material::Es256(_) => SigningAlg::Es256,
            Material::EdDsa(_) => SigningAlg::EdDsa,
        }
    }

    /// PKCS#8 DER: one standard form for every algorithm, so an operator tool can
    /// export a key to other software without knowing our layout.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, OAuthError> {
        self.material.to_pkcs8_der()
    }
}

impl Material {
    /// Adds the `ring` signer, built from the key's own PKCS#8 form.
    fn ready(self) -> Result<PrivateKey, OAuthError> {
        let der = self.to_pkcs8_der()?;
        let fail = |e: &dyn std::fmt::Display| OAuthError::Internal(format!("signer: {e}"));
        let signer = match &self {
            Self::Rs256(_) => {
                FastSigner::Rs256(::ring::rsa::KeyPair::from_pkcs8(&der).map_err(|e| fail(&e))?)
            }
            Self::Es256(_) => FastSigner::Es256(
                ::ring::signature::EcdsaKeyPair::from_pkcs8(
                    &::ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                    &::ring::rand::SystemRandom::new(),
                )
                .map_err(|e| fail(&e))?,
            ),
            Self::EdDsa(_) => FastSigner::EdDsa(
                ::ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(|e| fail(&e))?,
            ),
        };
        Ok(PrivateKey {
            material: self,
            signer,
        })
    }

    fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, OAuthError> {
        // rsa and the elliptic-curve crates use different `der` versions, so
        // each arm copies its document out; the documents zeroize on drop.
        let fail =
            |e: &dyn std::fmt::Display| OAuthError::Internal(format!("PKCS#8 encoding: {e}"));
        let der = match self {
            Self::Rs256(k) => {
                let doc = k.as_ref().as_ref().to_pkcs8_der().map_err(|e| fail(&e))?;
                doc.as_bytes().to_vec()
            }
            Self::Es256(k) => {
                let doc = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(k).map_err(|e| fail(&e))?;
                doc.as_bytes().to_vec()
            }
            Self::EdDsa(k) => {
                let doc = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(k)
                    .map_err(|e| fail(&e))?;
                doc.as_bytes().to_vec()
            }
        };
        Ok(Zeroizing::new(der))
    }
}

impl PrivateKey {
    /// Reads back what [`to_pkcs8_der`](Self::to_pkcs8_der) wrote.
    pub(crate) fn from_pkcs8_der(alg: SigningAlg, der: &[u8]) -> Result<Self, OAuthError> {
        let fail = |e: &dyn std::fmt::Display| {
            OAuthError::Internal(format!("stored {} key unreadable: {e}", alg.as_str()))
        };
        let material = match alg {
            SigningAlg::Rs256 => {
                let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|e| fail(&e))?;
                Material::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(key)))
            }
            SigningAlg::Es256 => Material::Es256(
                p256::pkcs8::DecodePrivateKey::from_pkcs8_der(der).map_err(|e| fail(&e))?,
            ),
            SigningAlg::EdDsa => Material::EdDsa(
                ed25519_dalek::pkcs8::DecodePrivateKey::from_pkcs8_der(der)
                    .map_err(|e| fail(&e))?,
            ),
        };
        material.ready()
    }

    /// The public JWK relying parties verify with: `kid`, `alg` and `use: sig`,
    /// and only public members.
    pub(crate) fn public_jwk(&self, kid: &str) -> Result<CoreJsonWebKey, OAuthError> {
        let id = Some(JsonWebKeyId::new(kid.to_owned()));
        let jwk = match &self.material {
            Material::Rs256(k) => {
                let public = k.as_ref().as_ref().to_public_key();
                CoreJsonWebKey::new_rsa(public.n().to_bytes_be(), public.e().to_bytes_be(), id)
            }
            Material::Es256(k) => {
                let point = k.verifying_key().to_sec1_point(false);
                // Uncompressed SEC1: 0x04 || x (32 bytes) || y (32 bytes).
                let bytes = point.as_bytes();
                if bytes.len() != 65 {
                    return Err(OAuthError::Internal(
                        "unexpected P-256 point size".to_owned(),
                    ));
                }
                CoreJsonWebKey::new_ec(
                    bytes[1..33].to_vec(),
                    bytes[33..65].to_vec(),
                    CoreJsonCurveType::P256,
                    id,
                )
            }
            Material::EdDsa(k) => CoreJsonWebKey::new_okp(
                k.verifying_key().to_bytes().to_vec(),
                CoreJsonCurveType::Ed25519,
                id,
            ),
        };
        with_alg(jwk, self.alg())
    }

    /// The raw JWS signature over `signing_input`: PKCS#1 v1.5 for RS256, the
    /// fixed 64-byte `r || s` for ES256 (JWS wants that, not DER), and the
    /// 64-byte Ed25519 signature.
    pub(crate) fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, OAuthError> {
        let rng = ::ring::rand::SystemRandom::new();
        let fail = |what: &str| OAuthError::Internal(format!("{what} signing failed"));
        match &self.signer {
            FastSigner::Rs256(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &::ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    signing_input,
                    &mut sig,
                )
                .map_err(|_| fail("RS256"))?;
                Ok(sig)
            }
            FastSigner::Es256(k) => Ok(k
                .sign(&rng, signing_input)
                .map_err(|_| fail("ES256"))?
                .as_ref()
                .to_vec()),
            FastSigner::EdDsa(k) => Ok(k.sign(signing_input).as_ref().to_vec()),
        }
    }
}

/// Sets the `alg` member, which openidconnect's constructors leave empty. Going
/// through JSON keeps its type as the one source of the published form.
fn with_alg(jwk: CoreJsonWebKey, alg: SigningAlg) -> Result<CoreJsonWebKey, OAuthError> {
    let fail = |e: serde_json::Error| OAuthError::Internal(format!("JWK encoding: {e}"));
    let mut value = serde_json::to_value(jwk).map_err(fail)?;
    let Some(members) = value.as_object_mut() else {
        return Err(OAuthError::Internal("JWK is not a JSON object".to_owned()));
    };
    members.insert("alg".to_owned(), alg.as_str().into());
    serde_json::from_value(value).map_err(fail)
}

/// The public members of a stored JWK we need to rebuild a verifying key.
#[derive(Deserialize)]
struct PublicMembers {
    kty: String,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl PublicKey {
    /// Rebuilds the verifying key from a published JWK, so that verification uses
    /// exactly what relying parties see and never needs the private half.
    pub(crate) fn from_jwk_json(alg: SigningAlg, json: &str) -> Result<Self, OAuthError> {
        let fail =
            |what: &str| OAuthError::Internal(format!("stored {} JWK: {what}", alg.as_str()));
        let m: PublicMembers = serde_json::from_str(json).map_err(|_| fail("not a JWK"))?;
        let b64 = |v: &Option<String>, name: &str| -> Result<Vec<u8>, OAuthError> {
            let s = v.as_deref().ok_or_else(|| fail(name))?;
            URL_SAFE_NO_PAD.decode(s).map_err(|_| fail(name))
        };
        match alg {
            SigningAlg::Rs256 => {
                if m.kty != "RSA" {
                    return Err(fail("kty"));
                }
                let (n, e) = (b64(&m.n, "n")?, b64(&m.e, "e")?);
                // Validated the same way a signing key would be: a size and an
                // exponent ring accepts for verification.
                RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
                    .map_err(|_| fail("RSA parameters"))?;
                Ok(Self::Rs256(::ring::signature::RsaPublicKeyComponents {
                    n,
                    e,
                }))
            }
            SigningAlg::Es256 => {
                if m.kty != "EC" || m.crv.as_deref() != Some("P-256") {
                    return Err(fail("kty or crv"));
                }
                let (x, y) = (b64(&m.x, "x")?, b64(&m.y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(fail("coordinate size"));
                }
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                // Checked once here (on the curve), so that a bad stored key is
                // reported at load rather than as failed verifications.
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| fail("point"))?;
                Ok(Self::Es256(::ring::signature::UnparsedPublicKey::new(
                    &::ring::signature::ECDSA_P256_SHA256_FIXED,
                    sec1,
                )))
            }
            SigningAlg::EdDsa => {
                if m.kty != "OKP" || m.crv.as_deref() != Some("Ed25519") {
                    return Err(fail("kty or crv"));
                }
                let x: [u8; 32] = b64(&m.x, "x")?.try_into().map_err(|_| fail("x size"))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| fail("x"))?;
                Ok(Self::EdDsa(key))
            }
        }
    }

    /// Whether `signature` is this key's JWS signature over `signing_input`.
    pub(crate) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Rs256(k) => k
                .verify(
                    &::ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    signing_input,
                    signature,
                )
                .is_ok(),
            Self::Es256(k) => k.verify(signing_input, signature).is_ok(),
            Self::EdDsa(k) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                    return false;
                };
                // Strict: refuses small-order keys and non-canonical signatures,
                // so one token has exactly one valid signature.
                k.verify_strict(signing_input, &sig).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use openidconnect::JsonWebKey as _;

    use super::*;

    #[test]
    fn every_key_survives_pkcs8_and_its_jwk_verifies_its_signatures() {
        for alg in SigningAlg::ALL {
            let key = PrivateKey::generate(alg).unwrap();
            let der = key.to_pkcs8_der().unwrap();
            let back = PrivateKey::from_pkcs8_der(alg, &der).unwrap();
            assert_eq!(back.alg(), alg);

            let jwk = back.public_jwk("kid-1").unwrap();
            let json = serde_json::to_string(&jwk).unwrap();
            let public = PublicKey::from_jwk_json(alg, &json).unwrap();
            let sig = key.sign(b"message").unwrap();
            assert!(public.verify(b"message", &sig), "{alg:?}");
            assert!(!public.verify(b"massage", &sig), "{alg:?}");
            assert!(!public.verify(b"message", &sig[1..]), "{alg:?}");
            // openidconnect checks the same signature from the JWK alone.
            jwk.verify_signature(&alg.to_core(), b"message", &sig)
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        }
    }

    #[test]
    fn es256_signatures_are_raw_r_s() {
        let key = PrivateKey::generate(SigningAlg::Es256).unwrap();
        assert_eq!(key.sign(b"m").unwrap().len(), 64);
        let key = PrivateKey::generate(SigningAlg::Rs256).unwrap();
        assert_eq!(key.sign(b"m").unwrap().len(), 256);
    }

    #[test]
    fn a_jwk_of_another_type_is_refused() {
        let ed = PrivateKey::generate(SigningAlg::EdDsa).unwrap();
        let json = serde_json::to_string(&ed.public_jwk("k").unwrap()).unwrap();
        assert!(PublicKey::from_jwk_json(SigningAlg::Es256, &json).is_err());
        assert!(PublicKey::from_jwk_json(SigningAlg::Rs256, &json).is_err());
        assert!(PublicKey::from_jwk_json(SigningAlg::EdDsa, "{}").is_err());
    }

    #[test]
    fn kids_are_128_bit_base64url() {
        let a = new_kid();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, new_kid());
    }
}
