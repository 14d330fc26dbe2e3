//! The Guichet binary's library half: configuration, start-up and commands, so
//! that tests can build the same application the binary runs.

pub mod app;
pub mod cli;
pub mod settings;
pub mod telemetry;

pub use app::{Application, StartError};
pub use settings::Settings;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

/// The whole program: parse the command line, load the configuration, run the
/// command. Exit codes: 0 success, 1 failure at run time, 2 bad configuration.
pub fn run() -> ExitCode {
    let args = Cli::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("guichet: {e}");
            return ExitCode::from(2);
        }
    };
    // Kept to the end of `run`: dropping it flushes the traces still queued.
    let _telemetry = telemetry::init(&settings, args.log_format.as_deref());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("guichet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match args.command {
            Command::Serve => cli::run_serve(settings).await,
            Command::Migrate => app::connect_database(&settings, true)
                .await
                .map(|_| println!("migrations applied"))
                .map_err(Into::into),
            Command::Account(cmd) => cli::run_account(&settings, cmd).await,
            Command::Client(cmd) => cli::run_client(&settings, cmd).await,
            Command::Keys(cmd) => cli::run_keys(&settings, cmd).await,
            Command::Support(cmd) => cli::run_support(&settings, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guichet: {e}");
            ExitCode::FAILURE
        }
    }
}
