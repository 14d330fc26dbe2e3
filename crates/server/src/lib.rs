//! Guichet's HTTP server: the pages and JSON API customers use, their sessions,
//! login throttling and security headers; and the operator API, served on a
//! listener of its own.
//!
//! Architecture invariant: this is the only crate that knows HTTP, cookies,
//! templates and Redis. It calls into `accounts` with parsed domain values and
//! turns the outcomes into responses.

pub mod access;
pub mod admin;
pub mod authz;
pub mod config;
pub mod gdpr;
pub mod housekeeping;
pub mod http;
pub mod i18n;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod revocation;
pub mod seclog;
pub mod session;
pub mod sms_gateway;
mod state;
pub mod twofactor;

pub use config::{LoginConfig, RequestLimits, ServerConfig, SessionConfig};
pub use http::router;
pub use session::store::{Store, StoreError};
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

/// Serves any router (the public one, or [`admin::admin_router`] on its own
/// listener) the way [`serve`] does: peer addresses known to handlers, the
/// header size and header timeout of `limits` enforced by hyper, graceful
/// shutdown when `shutdown` completes, at most `grace` for requests in flight.
///
/// This is `axum::serve` unrolled, because that one offers no way to set
/// hyper's header limits and timeouts.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: &RequestLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Request line and headers must fit the read buffer, or hyper answers 431;
    // a client that has not sent them all within the timeout is disconnected.
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(limits.max_header_bytes)
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A response is written whole; Nagle would only hold its last segment
        // back waiting for an ACK the client delays, adding latency.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not disable Nagle on a connection");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Clients that vanish or send garbage end here; nothing to report.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; closing remaining connections");
            Ok(())
        }
    }
}
