//! Chores no request does: each replica sweeps, at start and then every
//! hour, what has outlived its retention. Every sweep is one idempotent
//! delete, so replicas doing it at once only repeat each other.

use std::time::Duration;

use accounts::Events;

use std::sync::Arc;

use crate::services::App;

/// Time between sweeps.
const EVERY: Duration = Duration::from_secs(3600);

/// Sweeps until `stop` completes. The security log is also trimmed per
/// account whenever that account writes; this catches the accounts that no
/// longer write, whose old lines would otherwise stay for ever.
pub async fn run(state: Arc<App>, stop: impl std::future::Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    loop {
        match Events::purge(state.accounts.db(), state.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lines = n, "old security log lines deleted"),
            Err(e) => tracing::warn!(error = %e, "security log sweep failed; next one in an hour"),
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = &mut stop => return,
        }
    }
}
