//! `guichet`: parse the command line, load the configuration, run.

use std::process::ExitCode;

use clap::Parser;
use guichet::Settings;
use guichet::cli::{self, Cli, Command};
use tracing_subscriber::EnvFilter;

fn init_logs(settings: &Settings, format: Option<&str>) {
    let filter = EnvFilter::try_new(&settings.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to standard error so that `--json` output on standard out stays clean.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format.unwrap_or(&settings.log.format) == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("guichet: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&settings, args.log_format.as_deref());
    let result = match args.command {
        Command::Serve => cli::run_serve(settings).await,
        Command::Migrate => guichet::app::connect_database(&settings, true)
            .await
            .map(|_| println!("migrations applied"))
            .map_err(Into::into),
        Command::Account(cmd) => cli::run_account(&settings, cmd).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guichet: {e}");
            ExitCode::FAILURE
        }
    }
}
