//! No URL path is spelled outside the route table: a string literal that
//! starts with `/` in the server's HTTP modules or in this crate fails this
//! test, naming the file and line.

use std::path::Path;

/// The literals starting with `"/` in `source`, outside comments, with their
/// line numbers. Raw strings and character literals are skipped as code.
fn path_literals(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        // Unit tests, which sit at the end of a file, send requests to
        // made-up paths that are no route of ours.
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'/' if b.get(i + 1) == Some(&b'/') => break,
                b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
                b'"' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'"' {
                        j += if b[j] == b'\\' { 2 } else { 1 };
                    }
                    let text = &line[start..j.min(line.len())];
                    if text.starts_with('/') {
                        out.push((n + 1, text.to_owned()));
                    }
                    i = j;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

#[test]
fn the_scanner_sees_literals_but_not_comments() {
    let src = "// \"/a\"\nlet x = \"/b\"; // \"/c\"\nlet y = 'x'; let z = \"a/d\";";
    assert_eq!(path_literals(src), [(2, "/b".to_owned())]);
}

#[test]
fn no_path_literal_outside_the_route_table() {
    let mut found = Vec::new();
    for file in super::css_check::page_sources() {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // The table itself, these two scanners (whose examples are paths) and
        // the hostile-input tests (requests to made-up paths).
        let allowed = [
            "routes.rs",
            "literal_check.rs",
            "css_check.rs",
            "hostile_tests.rs",
        ];
        if allowed.contains(&name) {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("readable source");
        for (line, text) in path_literals(&source) {
            found.push(format!("{}:{line}: \"{text}\"", short(&file)));
        }
    }
    assert!(
        found.is_empty(),
        "path literals outside routes.rs ({}):\n{}",
        found.len(),
        found.join("\n")
    );
}

fn short(file: &Path) -> String {
    let s = file.display().to_string();
    s.split_once("crates/")
        .map_or(s.clone(), |(_, rest)| rest.to_owned())
}
