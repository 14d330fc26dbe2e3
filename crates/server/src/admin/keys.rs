//! `/admin/v1/keys/rotate`: adds signing keys, published at once and used later.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use oauth::SigningAlg;
use serde::Deserialize;
use serde_json::json;

use super::error::{AdminError, JsonBody};
use super::{AdminState, AuditNote};

/// The longest wait between publishing a key and signing with it: 30 days.
const MAX_PUBLISH_AHEAD_SECS: u64 = 30 * 86_400;
/// The longest token lifetime the old key is kept for: 366 days.
const MAX_TOKEN_LIFETIME_SECS: u64 = 366 * 86_400;

/// The body of a rotation, with the CLI's defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateKeys {
    /// `RS256`, `ES256`, `EdDSA`, or `all`.
    #[serde(default = "all")]
    alg: String,
    /// Seconds between publishing the new key and signing with it.
    #[serde(default = "hour")]
    publish_ahead_secs: u64,
    /// How long tokens signed by the old key stay valid.
    #[serde(default = "day")]
    token_lifetime_secs: u64,
}

fn all() -> String {
    "all".into()
}
fn hour() -> u64 {
    3600
}
fn day() -> u64 {
    86_400
}

impl RotateKeys {
    /// The algorithms to rotate, or every problem with the body.
    fn algorithms(&self) -> Result<Vec<SigningAlg>, AdminError> {
        let mut errs = Vec::new();
        let algs = if self.alg == "all" {
            SigningAlg::ALL.to_vec()
        } else if let Some(a) = SigningAlg::parse(&self.alg) {
            vec![a]
        } else {
            errs.push(("alg", "must be RS256, ES256, EdDSA or all".to_owned()));
            Vec::new()
        };
        if self.publish_ahead_secs > MAX_PUBLISH_AHEAD_SECS {
            errs.push((
                "publish_ahead_secs",
                format!("must be at most {MAX_PUBLISH_AHEAD_SECS}"),
            ));
        }
        if self.token_lifetime_secs > MAX_TOKEN_LIFETIME_SECS {
            errs.push((
                "token_lifetime_secs",
                format!("must be at most {MAX_TOKEN_LIFETIME_SECS}"),
            ));
        }
        if errs.is_empty() {
            Ok(algs)
        } else {
            Err(AdminError::Invalid(errs))
        }
    }
}

/// `POST /admin/v1/keys/rotate`: `{"keys": [{"alg", "kid"}]}`, the new keys.
pub(super) async fn rotate(
    State(s): State<AdminState>,
    JsonBody(body): JsonBody<RotateKeys>,
) -> Result<Response, AdminError> {
    let algs = body.algorithms()?;
    let now = s.app.clock.now();
    let mut rotated = Vec::new();
    for alg in algs {
        let kid = s
            .app
            .oauth
            .keys
            .rotate(
                alg,
                now,
                Duration::from_secs(body.publish_ahead_secs),
                Duration::from_secs(body.token_lifetime_secs),
            )
            .await?;
        rotated.push((alg, kid));
    }
    let note = AuditNote {
        client_id: None,
        detail: Some(
            rotated
                .iter()
                .map(|(alg, kid)| format!("{}:{kid}", alg.as_str()))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    let keys: Vec<_> = rotated
        .iter()
        .map(|(alg, kid)| json!({"alg": alg.as_str(), "kid": kid}))
        .collect();
    Ok((Extension(note), Json(json!({ "keys": keys }))).into_response())
}
