//! Guichet's HTTP server: the pages and JSON API customers use, their sessions,
//! login throttling and security headers.
//!
//! Architecture invariant: this is the only crate that knows HTTP, cookies,
//! templates and Redis. It calls into `accounts` with parsed domain values and
//! turns the outcomes into responses.

pub mod config;
pub mod http;
pub mod notify;
pub mod session;
mod state;

pub use config::{LoginConfig, ServerConfig, SessionConfig};
pub use http::router;
pub use session::store::{Store, StoreError};
pub use state::{AppState, OAuthState};

/// Serves the public router on `listener` until `shutdown` completes, then stops
/// accepting and lets requests in flight finish for at most `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    tokio::select! {
        r = serve => r,
        _ = async move {
            let _ = rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("grace period over; closing remaining connections");
            Ok(())
        }
    }
}
