//! The JWS algorithms the identity provider signs with.

use openidconnect::core::CoreJwsSigningAlgorithm;

/// A JWS signing algorithm Guichet holds keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit RSA key: the one every
    /// OpenID Connect relying party must support.
    Rs256,
    /// ECDSA over P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, in the order keys are created and listed.
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JWS `alg` value, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` value. Exact match: JOSE names are case-sensitive, and a
    /// lenient parse would let `none` spellings or look-alikes through.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The same algorithm as openidconnect names it, for discovery metadata.
    pub fn to_core(self) -> CoreJwsSigningAlgorithm {
        match self {
            Self::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Self::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Self::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_is_exact() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Some(alg));
        }
        for bad in ["rs256", "none", "HS256", "EDDSA", "", "ES256 "] {
            assert_eq!(SigningAlg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn core_names_match_ours() {
        for alg in SigningAlg::ALL {
            let core = serde_json::to_value(alg.to_core()).unwrap();
            assert_eq!(core, alg.as_str());
        }
    }
}
