//! Logs and traces: the fmt layer to standard error, and, when
//! `telemetry.otlp_endpoint` is set, an OpenTelemetry layer exporting the same
//! spans over OTLP/HTTP. Both see the request span that `server`'s middleware
//! opens (method, path, request id), so a trace and a log line of one request
//! share its id.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{LogFormat, Settings};

/// Flushes pending spans when dropped at exit.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("guichet: traces not flushed at exit: {e}");
        }
    }
}

/// What the process is about to do, which sets how much it logs by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// `serve`: `log.level` as configured.
    Serve,
    /// A command that does one thing and exits: `warn`, unless `RUST_LOG`,
    /// or `log.level` in a file or the environment, asks for more, so that
    /// migrations and start-up say nothing when all is well.
    OneShot,
}

/// The filter for `verbosity`, before the audit directive is added.
fn level(settings: &Settings, verbosity: Verbosity) -> String {
    match verbosity {
        Verbosity::Serve => settings.log.level.as_str().to_owned(),
        Verbosity::OneShot => match std::env::var("RUST_LOG") {
            Ok(filter) if !filter.trim().is_empty() => filter,
            _ if settings.log_level_given => settings.log.level.as_str().to_owned(),
            _ => "warn".to_owned(),
        },
    }
}

/// Installs the global subscriber. An exporter that cannot be built is
/// reported and left out: traces are an aid, not a reason to refuse to serve.
pub fn init(settings: &Settings, format: Option<LogFormat>, verbosity: Verbosity) -> Telemetry {
    // Operator actions are always recorded, whatever the general level.
    let directives = format!("{},audit=info", level(settings, verbosity));
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("warn,audit=info"));
    // Logs go to standard error, always: standard output carries a command's
    // result only, so that `guichet … --json | jq` reads nothing else.
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if format.unwrap_or(settings.log.format) == LogFormat::Json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    let provider = match otlp_provider(settings) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("guichet: telemetry.otlp_endpoint: traces off: {e}");
            None
        }
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("guichet"))
            .with_error_records_to_exceptions(true)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    Telemetry { provider }
}

fn otlp_provider(settings: &Settings) -> Result<Option<SdkTracerProvider>, String> {
    let t = &settings.telemetry;
    let Some(base) = &t.otlp_endpoint else {
        return Ok(None);
    };
    let endpoint = format!("{}/v1/traces", base.as_str().trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(t.sample_ratio)));
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(
                Resource::builder()
                    .with_service_name(t.service_name.clone())
                    .build(),
            )
            .build(),
    ))
}
