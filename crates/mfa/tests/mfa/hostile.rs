//! Hostile WebAuthn payloads: what a browser sends back after
//! `navigator.credentials.create()` and `.get()` is generated, or made by a
//! real software key for the real ceremony and then damaged (a byte of the
//! client data, the attestation or the signature flipped, a field replaced,
//! dropped or of the wrong type), and finishing the ceremony answers an
//! error, never a panic. `scripts/bench-fuzz.sh` runs this with
//! `PROPTEST_CASES=1000000`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::common::{ORIGIN, World};

const HOLDER: &str = "account:7";

struct Bench {
    rt: tokio::runtime::Runtime,
    world: World,
    key: std::sync::Mutex<SoftToken>,
}

fn bench() -> &'static Bench {
    static BENCH: std::sync::OnceLock<Bench> = std::sync::OnceLock::new();
    BENCH.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut key = SoftToken::new(true).unwrap().0;
        let world = rt.block_on(async {
            let w = World::new().await;
            let (ceremony, challenge) = w
                .mfa
                .webauthn_register_begin(HOLDER, "dom", "Dominique")
                .await
                .unwrap();
            let challenge: CreationChallengeResponse = serde_json::from_value(challenge).unwrap();
            let response = key
                .do_registration(Url::parse(ORIGIN).unwrap(), challenge)
                .unwrap();
            w.mfa
                .webauthn_register_finish(
                    HOLDER,
                    &ceremony,
                    "Key",
                    &serde_json::to_value(response).unwrap(),
                )
                .await
                .unwrap();
            w
        });
        Bench {
            rt,
            world,
            key: std::sync::Mutex::new(key),
        }
    })
}

/// Damage to a JSON response: which member (by path), and what becomes of it.
#[derive(Clone, Debug)]
enum Damage {
    /// Flip one byte of a base64url member's decoded bytes.
    Flip(usize, u8),
    /// Cut a base64url member's decoded bytes.
    Cut(usize),
    /// Replace the member with another JSON value.
    Replace(Value),
    /// Remove the member.
    Remove,
}

fn damage() -> impl Strategy<Value = (usize, Damage)> {
    let value = prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| Value::from(URL_SAFE_NO_PAD.encode(b))),
        Just(Value::Null),
        Just(json!({})),
        Just(json!([1, "a"])),
    ];
    (
        any::<usize>(),
        prop_oneof![
            (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Damage::Flip(at, x)),
            any::<usize>().prop_map(Damage::Cut),
            value.prop_map(Damage::Replace),
            Just(Damage::Remove),
        ],
    )
}

/// The paths of a response's members, leaves first.
fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            prefix.push(k.clone());
            paths(child, prefix, out);
            out.push(prefix.clone());
            prefix.pop();
        }
    }
}

fn apply(mut v: Value, (which, d): &(usize, Damage)) -> Value {
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return v;
    }
    let path = &all[which % all.len()];
    let (last, parents) = path.split_last().unwrap();
    let mut node = &mut v;
    for p in parents {
        node = &mut node[p.as_str()];
    }
    let Some(obj) = node.as_object_mut() else {
        return v;
    };
    match d {
        Damage::Remove => {
            obj.remove(last);
        }
        Damage::Replace(x) => {
            obj.insert(last.clone(), x.clone());
        }
        Damage::Flip(at, _) | Damage::Cut(at) => {
            let Some(bytes) = obj
                .get(last)
                .and_then(Value::as_str)
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
            else {
                return v;
            };
            let mut bytes = bytes;
            if bytes.is_empty() {
                return v;
            }
            let i = at % bytes.len();
            match d {
                Damage::Flip(_, x) => bytes[i] ^= x,
                _ => bytes.truncate(i),
            }
            obj.insert(last.clone(), Value::from(URL_SAFE_NO_PAD.encode(bytes)));
        }
    }
    v
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("rawId".to_owned()),
                    Just("type".to_owned()),
                    Just("response".to_owned()),
                    Just("clientDataJSON".to_owned()),
                    Just("attestationObject".to_owned()),
                    Just("authenticatorData".to_owned()),
                    Just("signature".to_owned()),
                    any::<String>(),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn a_damaged_registration_is_refused(d in damage(), anything in arbitrary_json(), raw in any::<bool>()) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);
        // A fresh identity each time: a damaged response that still holds
        // registers a key, and keys must not pile up on one identity.
        let who = format!("account:{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let b = bench();
        let r = b.rt.block_on(async {
            let (ceremony, challenge) = b.world.mfa.webauthn_register_begin(&who, "dom", "Dominique").await.unwrap();
            let response = if raw {
                anything
            } else {
                let challenge: CreationChallengeResponse = serde_json::from_value(challenge).unwrap();
                let genuine = b.key.lock().unwrap().do_registration(Url::parse(ORIGIN).unwrap(), challenge).unwrap();
                apply(serde_json::to_value(genuine).unwrap(), &d)
            };
            b.world.mfa.webauthn_register_finish(&who, &ceremony, "Key", &response).await
        });
        // Damage may leave the response valid (a removed optional member):
        // then the key is registered, which is no failure of the parser.
        let _ = r;
    }

    #[test]
    fn a_damaged_login_is_refused(d in damage(), anything in arbitrary_json(), raw in any::<bool>()) {
        let b = bench();
        let r = b.rt.block_on(async {
            let (ceremony, challenge) = b.world.mfa.webauthn_login_begin(HOLDER).await.unwrap();
            let response = if raw {
                anything
            } else {
                let challenge: RequestChallengeResponse = serde_json::from_value(challenge).unwrap();
                let genuine = b.key.lock().unwrap().do_authentication(Url::parse(ORIGIN).unwrap(), challenge).unwrap();
                apply(serde_json::to_value(genuine).unwrap(), &d)
            };
            b.world.mfa.webauthn_login_finish(HOLDER, &ceremony, &response).await
        });
        let _ = r;
    }
}
