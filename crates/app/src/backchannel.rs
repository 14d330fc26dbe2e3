//! Back-channel logout (OIDC Back-Channel Logout 1.0): the clients that took
//! part in a browser session are remembered with it, and told with a signed
//! logout token when it ends. Sending the token is a port ([`BackChannel`]),
//! since only the adapter speaks HTTP; the retries and the log lines are here.

use std::sync::Arc;
use std::time::Duration;

use oauth::SigningAlg;
use serde_json::json;

use crate::ports::Delivery;
use crate::services::App;
use crate::session::SessionData;
use crate::store::StoreError;

/// The event a logout token carries.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Delivery attempts of one logout token, and the pause before each retry.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];

fn participants_key(sid: &str) -> String {
    format!("rp:{sid}")
}

/// Records that a client received a code in this session, so that logging out
/// of the session tells it.
pub async fn note_participant(state: &App, sid: &str, client_id: &str) -> Result<(), StoreError> {
    let key = participants_key(sid);
    let mut ids: Vec<String> = state
        .store
        .get(&key)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    if !ids.iter().any(|i| i == client_id) {
        ids.push(client_id.to_owned());
    }
    let ttl = state.config.session.absolute_timeout;
    state
        .store
        .set(&key, &serde_json::to_string(&ids).unwrap_or_default(), ttl)
        .await
}

/// Ends a browser session everywhere: the server-side session is deleted, and
/// each client that took part and registered a back-channel URI is sent a
/// signed logout token in the background (never holding up the user).
pub async fn end_session(state: &Arc<App>, id: &str, data: &SessionData) -> Result<(), StoreError> {
    state.sessions.destroy(id).await?;
    tell_participants(state, data).await
}

/// Sends a back-channel logout to each client that took part in the session
/// (the session itself is already gone).
pub async fn tell_participants(state: &Arc<App>, data: &SessionData) -> Result<(), StoreError> {
    if data.sid.is_empty() {
        return Ok(());
    }
    let key = participants_key(&data.sid);
    let ids: Vec<String> = state
        .store
        .take(&key)
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    if ids.is_empty() {
        return Ok(());
    }
    let Some(subject) = crate::authz::subject_of(state, data.account_id, data.user_id).await else {
        return Ok(());
    };
    for client_id in ids {
        let state = state.clone();
        let (sid, subject) = (data.sid.clone(), subject.clone());
        tokio::spawn(async move { notify_client(&state, &client_id, &subject, &sid).await });
    }
    Ok(())
}

async fn notify_client(state: &Arc<App>, client_id: &str, subject: &str, sid: &str) {
    let Ok(Some(client)) = state
        .oauth
        .clients
        .get(state.accounts.db(), client_id)
        .await
    else {
        return;
    };
    let Some(uri) = client.backchannel_logout_uri.clone() else {
        return;
    };
    let now = state.clock.now();
    let claims = json!({
        "iss": state.oauth.issuer,
        "aud": client.client_id,
        "iat": now.timestamp(),
        "exp": now.timestamp() + 120,
        "jti": oauth::tokens::new_jti(),
        "sub": subject,
        "sid": sid,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let token = match state
        .oauth
        .keys
        .sign_jwt(alg, "logout+jwt", &claims, now)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, client_id, "logout token not signed");
            return;
        }
    };
    for (attempt, pause) in std::iter::once(Duration::ZERO)
        .chain(RETRY_DELAYS)
        .enumerate()
    {
        tokio::time::sleep(pause).await;
        match state.backchannel.post(&uri, &token).await {
            Delivery::Delivered => {
                tracing::info!(client_id, "back-channel logout delivered");
                return;
            }
            Delivery::Refused(status) => {
                tracing::warn!(client_id, status = %status, attempt, "back-channel logout refused")
            }
            Delivery::Failed(e) => {
                tracing::warn!(client_id, error = %e, attempt, "back-channel logout failed")
            }
        }
    }
    tracing::error!(client_id, "back-channel logout abandoned after retries");
}
