//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The replica can serve: database and session store both answer, each
/// within the database timeout (a probe that waits longer than the load
/// balancer's own timeout tells it nothing). A load balancer drains a
/// replica whose readiness fails; a database marked down by the outage
/// gate is not pinged again, its prober does that.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (db, store) = tokio::join!(
        async { !state.database.is_down() && state.database.check().await },
        tokio::time::timeout(state.config.database_timeout, state.store.ping()),
    );
    let db: Result<(), ()> = if db { Ok(()) } else { Err(()) };
    let store: Result<(), ()> = match store {
        Ok(Ok(_)) => Ok(()),
        _ => Err(()),
    };
    let status = if db.is_ok() && store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({"database": word(db.is_ok()), "session_store": word(store.is_ok())})),
    )
}
