//! Files and handlers small enough to read: a file holds one thing, a
//! handler reads its inputs, makes one call into the application and renders.

use std::path::PathBuf;

use super::imports::{rust_files, strip_tests, workspace};

/// Every Rust file of the workspace that is not generated or vendored:
/// crates' sources and tests, migrations, the end-to-end tests.
fn all_sources() -> Vec<PathBuf> {
    let ws = workspace();
    let mut files = Vec::new();
    for dir in ["crates", "migrations", "tests"] {
        rust_files(&ws.join(dir), &mut files);
    }
    files.retain(|f| !f.components().any(|c| c.as_os_str() == "target"));
    files
}

/// Longest a source file may be: past it, a file holds more than one thing
/// and a reader cannot keep it in their head.
const MAX_FILE_LINES: usize = 600;

#[test]
fn no_source_file_is_over_600_lines() {
    let files = all_sources();
    assert!(files.len() > 100, "the sources are found: {}", files.len());
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > MAX_FILE_LINES).then(|| format!("{n:5} {}", f.display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// Longest an HTTP handler may be, from `pub async fn` to its closing brace:
/// a handler reads its inputs, makes one call into the application and
/// renders; more than this is a decision that belongs in `app`.
const MAX_HANDLER_LINES: usize = 40;

#[test]
fn no_http_handler_is_over_40_lines() {
    let ws = workspace();
    let mut files = Vec::new();
    rust_files(&ws.join("crates/server/src/http"), &mut files);
    rust_files(&ws.join("crates/server/src/admin"), &mut files);
    assert!(!files.is_empty(), "the handlers are found");
    let mut long = Vec::new();
    for f in &files {
        let text = strip_tests(&std::fs::read_to_string(f).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].starts_with("pub async fn ") {
                let end = (i..lines.len())
                    .find(|&j| lines[j] == "}")
                    .unwrap_or(lines.len() - 1);
                let n = end - i + 1;
                if n > MAX_HANDLER_LINES {
                    let name = lines[i].trim_start_matches("pub async fn ");
                    let name = name.split('(').next().unwrap_or(name);
                    long.push(format!(
                        "{n:4} {}::{name}",
                        f.strip_prefix(&ws).unwrap_or(f).display()
                    ));
                }
                i = end;
            }
            i += 1;
        }
    }
    long.sort();
    assert!(
        long.is_empty(),
        "handlers over {MAX_HANDLER_LINES} lines:\n{}",
        long.join("\n")
    );
}
