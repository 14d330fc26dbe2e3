//! Guichet's HTTP server: the pages and JSON API customers use, their sessions,
//! login throttling and security headers; and the operator API, served on a
//! listener of its own.
//!
//! Architecture invariant: this is the only crate that knows HTTP, cookies,
//! templates and Redis. It calls into `accounts` with parsed domain values and
//! turns the outcomes into responses.

pub mod admin;
pub mod back_channel;
pub mod db_health;
pub mod http;
mod listen;
pub mod metrics;
pub mod session;
pub mod sms_gateway;
mod state;
pub mod twofactor;

pub use app::config::{ConnectionLimits, LoginConfig, RequestLimits, ServerConfig, SessionConfig};
pub use app::store::StoreError;
pub use http::router;
pub use session::store::Store;
pub use state::{AppState, OAuthState, Shared};

/// Serves the public router on `listener` until `shutdown` completes, then stops
/// accepting and lets requests in flight finish for at most `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    serve_router(listener, router(state), &limits, shutdown, grace).await
}

pub use listen::serve_router;
