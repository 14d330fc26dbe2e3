//! Every class a page can use is defined by the stylesheet. The scanner reads
//! the page sources (maud's `.class` shorthand and literal `class="..."`)
//! rather than rendered pages, so that a branch no test renders is checked
//! too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::components::Role;

/// The classes the stylesheet's selectors name.
fn defined(css: &str) -> BTreeSet<String> {
    let s = selectors(&strip_comments(css));
    let mut out = BTreeSet::new();
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices('.') {
        let name = ident_at(&s, i + 1);
        let after_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        if !name.is_empty() && !after_digit {
            out.insert(name.to_owned());
        }
    }
    out
}

/// The stylesheet without its declaration blocks (the blocks holding no
/// other block), so that selectors remain, those inside `@media` included.
fn selectors(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    // Open blocks: where each starts in `out`, and whether it holds a block.
    let mut open: Vec<(usize, bool)> = Vec::new();
    for c in css.chars() {
        match c {
            '{' => {
                if let Some(parent) = open.last_mut() {
                    parent.1 = true;
                }
                open.push((out.len(), false));
                out.push(c);
            }
            '}' => match open.pop() {
                Some((start, false)) => {
                    out.truncate(start);
                    out.push(' ');
                }
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out
}

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// The class-name characters starting at `at`.
fn ident_at(s: &str, at: usize) -> &str {
    let rest = &s[at..];
    let first_ok = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok {
        return "";
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The classes a Rust source file's `html!` blocks use.
fn used(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (start, _) in source.match_indices("html! {") {
        scan_markup(&source[start + "html! ".len()..], &mut out);
    }
    out
}

/// Reads one markup block (from its `{`), skipping Rust expressions (in
/// parentheses and brackets), control lines (`@if ... {`) and strings, except
/// the value of a `class=` attribute.
fn scan_markup(block: &str, out: &mut BTreeSet<String>) {
    let b = block.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            b'"' => {
                let end = string_end(b, i);
                if block[..i].ends_with("class=") {
                    out.extend(block[i + 1..end].split_whitespace().map(str::to_owned));
                }
                i = end;
            }
            b'(' | b'[' => i = group_end(b, i),
            // A comment says nothing about classes.
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = block[i..].find('\n').map_or(b.len(), |n| i + n);
            }
            // A match arm's guard is Rust (`Some(m) if m.kind == ... =>`).
            b'i' if block[i..].starts_with("if ") && !is_ident(b[i - 1]) => {
                i = block[i..].find("=>").map_or(b.len(), |n| i + n + 1);
            }
            b'@' => {
                // A control line runs to its block or its `;`.
                while i < b.len() && b[i] != b'{' && b[i] != b';' {
                    if b[i] == b'(' || b[i] == b'[' {
                        i = group_end(b, i);
                    } else if b[i] == b'"' {
                        i = string_end(b, i);
                    }
                    i += 1;
                }
                continue;
            }
            b'.' => {
                let name = ident_at(block, i + 1);
                if !name.is_empty() {
                    out.insert(name.to_owned());
                    i += name.len();
                }
            }
            _ => {}
        }
        i += 1;
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// The index of the quote closing the string opened at `open`.
fn string_end(b: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while i < b.len() && b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i.min(b.len() - 1)
}

/// The index of the bracket closing the group opened at `open`.
fn group_end(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            b'"' => i = string_end(b, i),
            _ => {}
        }
        i += 1;
    }
    b.len() - 1
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The sources that render pages: this crate, and the server's HTTP modules
/// for as long as some pages are still written there.
pub(crate) fn page_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("../server/src/http"), &mut files);
    files
}

#[test]
fn the_scanner_finds_shorthand_and_literal_classes() {
    let src = r#"html! { div.alert.big role="alert" { p class="hint wide" { (a.b) } @if x.y { span.z {} }
        // e.g. a comment
        @match v { Some(m) if m.kind == 1 => { b.strong {} }, _ => {} } } }"#;
    let found: Vec<String> = used(src).into_iter().collect();
    assert_eq!(found, ["alert", "big", "hint", "strong", "wide", "z"]);
    let css = "/* .gone */ p.hint { margin: .5rem; } @media (x) { .wide { a: 1.5em } }";
    let have: Vec<String> = defined(css).into_iter().collect();
    assert_eq!(have, ["hint", "wide"]);
}

#[test]
fn every_class_a_page_uses_is_in_the_stylesheet() {
    let have = defined(crate::assets::STYLESHEET);
    let mut missing = BTreeSet::new();
    for file in page_sources() {
        // This file's own examples are no page.
        if file.ends_with("css_check.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("readable source");
        for class in used(&source) {
            if !have.contains(&class) {
                missing.insert(format!("{class} ({})", file.display()));
            }
        }
    }
    // Classes the components choose at run time.
    let roles = [Role::Secondary, Role::Danger, Role::Link];
    for class in roles.iter().filter_map(|r| r.class()).chain(["button"]) {
        if !have.contains(class) {
            missing.insert(format!("{class} (components::button)"));
        }
    }
    assert!(
        missing.is_empty(),
        "classes the stylesheet does not define: {missing:#?}"
    );
}
