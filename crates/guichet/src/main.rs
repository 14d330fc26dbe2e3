//! `guichet`: everything happens in [`guichet::run`], shared with the test build.

fn main() -> std::process::ExitCode {
    guichet::run()
}
