//! The Guichet binary's library half: configuration, start-up and commands, so
//! that tests can build the same application the binary runs.

pub mod app;
pub mod cli;
pub mod settings;

pub use app::{Application, StartError};
pub use settings::Settings;
