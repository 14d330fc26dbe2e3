//! `guichet serve`: the server, until SIGTERM or Ctrl-C.

use super::CliError;
use crate::app::Application;
use crate::settings::Settings;

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run_serve(settings: Settings) -> Result<(), CliError> {
    let app = Application::build(settings).await?;
    tracing::info!(addr = %app.local_addr(), "guichet listening");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("guichet stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
