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
use cli::Cli;

/// The whole program: parse the command line, load the configuration, run the
/// command. Exit codes: 0 success, 1 failure at run time, 2 bad configuration.
/// Standard output carries the command's result only; logs and errors go to
/// standard error.
pub fn run() -> ExitCode {
    let args = Cli::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("guichet: {e}");
            return ExitCode::from(2);
        }
    };
    let verbosity = if args.command.is_one_shot() {
        telemetry::Verbosity::OneShot
    } else {
        telemetry::Verbosity::Serve
    };
    // Kept to the end of `run`: dropping it flushes the traces still queued.
    let _telemetry = telemetry::init(&settings, args.log_format, verbosity);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("guichet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(args.command.run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guichet: {e}");
            ExitCode::FAILURE
        }
    }
}
