//! The `guichet` program, for the end-to-end tests to run as a process.

fn main() -> std::process::ExitCode {
    guichet::run()
}
