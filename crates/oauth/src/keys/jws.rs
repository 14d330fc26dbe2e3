//! Compact JWS serialization (RFC 7515) for the tokens this server issues, and
//! the strict parsing of tokens presented back to it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::alg::SigningAlg;
use crate::error::OAuthError;

/// Longest token accepted, in bytes. Our tokens are well under 4 KiB; refusing
/// early bounds the work an attacker can make us do with one request.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// Header members that point a verifier at keys or semantics other than ours.
/// We never emit them; a token carrying one was not made here.
const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// The protected header we emit, in this member order.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// `base64url(header) || '.' || base64url(claims)`: the bytes a signature covers.
pub(crate) fn signing_input(
    alg: SigningAlg,
    typ: &str,
    kid: &str,
    claims: &Value,
) -> Result<String, OAuthError> {
    if !claims.is_object() {
        return Err(OAuthError::Internal(
            "JWT claims must be a JSON object".to_owned(),
        ));
    }
    let header = Header {
        alg: alg.as_str(),
        typ,
        kid,
    };
    let fail = |e: serde_json::Error| OAuthError::Internal(format!("JWT encoding: {e}"));
    let header = serde_json::to_vec(&header).map_err(fail)?;
    let claims = serde_json::to_vec(claims).map_err(fail)?;
    // One buffer sized for the whole token, signature included, so that
    // neither the encoding nor `assemble` reallocates: every access token
    // goes through here.
    let mut input = String::with_capacity((header.len() + claims.len() + 2 + 512) * 4 / 3);
    URL_SAFE_NO_PAD.encode_string(header, &mut input);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut input);
    Ok(input)
}

/// Appends the signature to a signing input, giving the compact JWS.
pub(crate) fn assemble(signing_input: String, signature: &[u8]) -> String {
    let mut token = signing_input;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    /// The header's `alg`, one of `allowed`.
    pub alg: SigningAlg,
    /// The header's `kid`.
    pub kid: String,
    /// The bytes the signature covers, as received.
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The decoded claims, a JSON object.
    pub claims: Map<String, Value>,
}

/// Splits and decodes a compact JWS and checks its header. Everything that can
/// be refused without a key is refused here.
pub(crate) fn parse<'a>(
    token: &'a str,
    allowed: &[SigningAlg],
) -> Result<Unverified<'a>, OAuthError> {
    let bad = OAuthError::InvalidToken;
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad("too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three segments"));
    };
    // The signing input is the first two segments and the dot between them.
    let signing_input = &token.as_bytes()[..header.len() + 1 + payload.len()];

    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| bad("header is not base64url"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header).map_err(|_| bad("header is not a JSON object"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(bad("no alg"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(bad("unsigned token"));
    }
    let alg = SigningAlg::parse(alg).ok_or(bad("unsupported alg"))?;
    if !allowed.contains(&alg) {
        return Err(bad("alg not allowed here"));
    }
    if FORBIDDEN_HEADERS.iter().any(|h| header.contains_key(*h)) {
        return Err(bad("forbidden header member"));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(bad("no kid"))?
        .to_owned();

    if signature.is_empty() {
        return Err(bad("empty signature"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| bad("signature is not base64url"))?;
    let claims = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| bad("payload is not base64url"))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&claims).map_err(|_| bad("payload is not a JSON object"))?;

    Ok(Unverified {
        alg,
        kid,
        signing_input,
        signature,
        claims,
    })
}

/// Checks `exp` (required), `nbf` and `iat` against `now`, with [`LEEWAY_SECS`].
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let bad = OAuthError::InvalidToken;
    let now = now.timestamp();
    // Every token we issue expires; one without `exp` would be valid forever.
    let exp = numeric_date(claims, "exp")?.ok_or(bad("no exp"))?;
    if now > exp.saturating_add(LEEWAY_SECS) {
        return Err(bad("expired"));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf > now.saturating_add(LEEWAY_SECS)
    {
        return Err(bad("not yet valid"));
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(LEEWAY_SECS)
    {
        return Err(bad("issued in the future"));
    }
    Ok(())
}

/// Reads a NumericDate claim as whole seconds; fractions are dropped, which only
/// ever moves a bound by less than a second.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, OAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            if let Some(i) = v.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = v.as_f64().filter(|f| f.is_finite()) {
                // `as` saturates, so absurd values stay absurd instead of wrapping.
                Ok(Some(f.floor() as i64))
            } else {
                Err(OAuthError::InvalidToken("time claim is not a number"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&claims))
    }

    const ALL: &[SigningAlg] = &SigningAlg::ALL;

    fn reason(token: &str, allowed: &[SigningAlg]) -> &'static str {
        match parse(token, allowed) {
            Err(OAuthError::InvalidToken(r)) => r,
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    #[test]
    fn emitted_header_has_alg_typ_kid_in_order() {
        let input = signing_input(SigningAlg::Es256, "at+jwt", "k1", &json!({"a": 1})).unwrap();
        let header = input.split('.').next().unwrap();
        let header = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header, r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#);
        assert!(signing_input(SigningAlg::Es256, "JWT", "k1", &json!([1])).is_err());
    }

    #[test]
    fn a_well_formed_token_parses() {
        let t = token(
            json!({"alg": "EdDSA", "kid": "k", "typ": "JWT"}),
            json!({"sub": "x"}),
        );
        let u = parse(&t, ALL).unwrap();
        assert_eq!(u.alg, SigningAlg::EdDsa);
        assert_eq!(u.kid, "k");
        assert_eq!(u.signature, b"sig");
        assert_eq!(u.claims["sub"], "x");
        assert_eq!(u.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn headers_that_are_not_ours_are_refused() {
        let claims = json!({"sub": "x"});
        for (header, why) in [
            (json!({"alg": "none", "kid": "k"}), "unsigned token"),
            (json!({"alg": "NONE", "kid": "k"}), "unsigned token"),
            (json!({"alg": "HS256", "kid": "k"}), "unsupported alg"),
            (json!({"alg": "RS512", "kid": "k"}), "unsupported alg"),
            (json!({"kid": "k"}), "no alg"),
            (json!({"alg": 256, "kid": "k"}), "no alg"),
            (json!({"alg": "ES256"}), "no kid"),
            (json!({"alg": "ES256", "kid": 7}), "no kid"),
            (
                json!({"alg": "ES256", "kid": "k", "jku": "https://x"}),
                "forbidden header member",
            ),
            (
                json!({"alg": "ES256", "kid": "k", "x5u": "https://x"}),
                "forbidden header member",
            ),
            (
                json!({"alg": "ES256", "kid": "k", "jwk": {}}),
                "forbidden header member",
            ),
            (
                json!({"alg": "ES256", "kid": "k", "crit": ["exp"]}),
                "forbidden header member",
            ),
        ] {
            assert_eq!(
                reason(&token(header.clone(), claims.clone()), ALL),
                why,
                "{header}"
            );
        }
        let es = token(json!({"alg": "ES256", "kid": "k"}), claims);
        assert_eq!(reason(&es, &[SigningAlg::Rs256]), "alg not allowed here");
        assert_eq!(reason(&es, &[]), "alg not allowed here");
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let header = b64(&json!({"alg": "ES256", "kid": "k"}));
        let claims = b64(&json!({"sub": "x"}));
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        let huge_dots = ".".repeat(100_000);
        let cases: Vec<String> = vec![
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{header}.{claims}"),
            format!("{header}.{claims}."),
            format!("{header}.{claims}.sig.extra"),
            format!("{header}.{claims}.!!!"),
            format!("{header}.{claims}.c2ln="),
            format!("{header}.***.c2ln"),
            format!("***.{claims}.c2ln"),
            format!("{header}=.{claims}.c2ln"),
            format!("{}.{claims}.c2ln", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.{claims}.c2ln", b64(&json!(["ES256"]))),
            format!("{header}.{}.c2ln", b64(&json!("string"))),
            format!(
                "{header}.{}.c2ln",
                URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00])
            ),
            "\u{0}\u{1}.\u{fffd}.é".into(),
            huge,
            huge_dots,
        ];
        for case in &cases {
            assert!(
                matches!(parse(case, ALL), Err(OAuthError::InvalidToken(_))),
                "{:.80}",
                case
            );
        }
    }

    #[test]
    fn time_window_has_sixty_seconds_of_leeway() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t = now.timestamp();
        let check = |claims: Value| check_times(claims.as_object().unwrap(), now);
        assert!(check(json!({"exp": t + 10})).is_ok());
        assert!(check(json!({"exp": t - 60})).is_ok());
        assert!(check(json!({"exp": t - 61})).is_err());
        assert!(check(json!({})).is_err());
        assert!(check(json!({"exp": "soon"})).is_err());
        assert!(check(json!({"exp": (t + 10) as f64 + 0.5})).is_ok());
        assert!(check(json!({"exp": t + 10, "nbf": t + 60})).is_ok());
        assert!(check(json!({"exp": t + 100, "nbf": t + 61})).is_err());
        assert!(check(json!({"exp": t + 100, "iat": t + 61})).is_err());
        assert!(check(json!({"exp": t + 100, "iat": t})).is_ok());
        assert!(check(json!({"exp": i64::MIN})).is_err());
        assert!(check(json!({"exp": 1e300})).is_ok());
    }
}
