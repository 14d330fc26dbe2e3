//! `GET /metrics`: the instance's counters in the Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sea_orm::DbBackend;

use super::AdminState;

/// Reads the gauges that are cheaper to read when scraped than to keep up to
/// date (the mail queue, the database pool), then renders every metric. A
/// gauge that cannot be read keeps its last value; the scrape still answers.
pub(super) async fn scrape(State(admin): State<AdminState>) -> Response {
    let metrics = &admin.app.metrics;
    match admin.app.mail.summary().await {
        Ok(summary) => metrics.set_mail_queue(&summary),
        Err(e) => tracing::warn!(error = %e, "metrics: mail queue summary unavailable"),
    }
    let db = admin.app.accounts.db();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            metrics.set_db_pool(pool.size(), pool.num_idle());
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            metrics.set_db_pool(pool.size(), pool.num_idle());
        }
        // Not a backend Guichet connects to.
        _ => {}
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
