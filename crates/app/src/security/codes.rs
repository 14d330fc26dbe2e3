//! Emergency codes: made anew, deleted, and kept for one viewing after they
//! are made (so that a redirect, or a script, leads to the page that shows
//! them without putting them in a URL).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Actor, notice};
use crate::error::AppError;
use crate::notify::SecurityChange;
use crate::services::App;
use crate::session::random_token;

/// How long freshly made emergency codes wait to be shown.
const CODES_TTL: Duration = Duration::from_secs(300);

/// Length of a viewing key (32 random bytes, base64url): anything else was
/// never ours and is not looked up.
const KEY_LEN: usize = 43;

/// Keeps `codes` for one viewing by the session `sid`; returns the key.
pub(super) async fn stash(app: &App, sid: &str, codes: &[String]) -> Result<String, AppError> {
    let key = random_token();
    let json = serde_json::to_string(&json!({"sid": sid, "codes": codes})).unwrap_or_default();
    app.store
        .set(&format!("codes:{key}"), &json, CODES_TTL)
        .await?;
    Ok(key)
}

/// The codes kept under `key`, once, and only for the session that made
/// them.
pub async fn take_codes(app: &App, key: &str, sid: &str) -> Result<Option<Vec<String>>, AppError> {
    if key.len() != KEY_LEN {
        return Ok(None);
    }
    let stored = app.store.take(&format!("codes:{key}")).await?;
    Ok(stored
        .and_then(|j| serde_json::from_str::<Value>(&j).ok())
        .filter(|v| v["sid"] == sid)
        .and_then(|v| serde_json::from_value(v["codes"].clone()).ok()))
}

/// A new set of codes, the old one void, kept for one viewing under the
/// returned key. `Ok(None)` when two-factor is off: codes alone are no
/// second factor.
pub async fn regenerate_codes(
    app: &Arc<App>,
    actor: &Actor<'_>,
) -> Result<Option<String>, AppError> {
    if !app.mfa.is_enabled(&actor.identity).await? {
        return Ok(None);
    }
    let codes = app.mfa.recovery_generate(&actor.identity).await?;
    notice(app, actor, SecurityChange::RecoveryCodesRegenerated);
    Ok(Some(stash(app, &actor.data.sid, &codes).await?))
}

/// Deletes the actor's emergency codes.
pub async fn delete_codes(app: &Arc<App>, actor: &Actor<'_>) -> Result<(), AppError> {
    app.mfa.recovery_delete(&actor.identity).await?;
    notice(app, actor, SecurityChange::RecoveryCodesDeleted);
    Ok(())
}
