//! Guichet's HTTP server: the pages and JSON API customers use, their sessions,
//! login throttling and security headers; and the operator API, served on a
//! listener of its own.
//!
//! Architecture invariant: this is the only crate that knows HTTP, cookies,
//! templates and Redis. It calls into `accounts` with parsed domain values and
//! turns the outcomes into responses.

pub mod admin;
pub mod config;
pub mod http;
pub mod i18n;
pub mod notify;
pub mod session;
mod state;
pub mod twofactor;

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
    serve_router(listener, router(state), shutdown, grace).await
}

/// Serves any router (the public one, or [`admin::admin_router`] on its own
/// listener) the way [`serve`] does: peer addresses known to handlers, graceful
/// shutdown when `shutdown` completes, at most `grace` for requests in flight.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
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
