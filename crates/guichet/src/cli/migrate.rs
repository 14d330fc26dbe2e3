//! `guichet migrate`: apply pending migrations, then say so on standard
//! output (the migrations' own chatter is log, on standard error).

use super::CliError;
use crate::app;
use crate::settings::Settings;

/// Applies pending migrations and prints one line.
pub async fn run_migrate(settings: &Settings) -> Result<(), CliError> {
    app::connect_database(settings, true).await?;
    println!("migrations applied");
    Ok(())
}
