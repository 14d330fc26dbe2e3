//! No module of a crate imports, through any
//! chain of imports, a module that imports it back. A circle means two
//! modules that can only be understood together, and it is how a lower layer
//! starts reaching up to a handler; the crate boundaries (`.ci/run`'s
//! dependency checks) keep the layers apart, this keeps each crate's modules
//! in order.
//!
//! Imports are read as text: every `crate::…` and `super::…` path of a
//! file's non-test code, resolved to the file that defines the module it
//! names, following `pub use` re-exports of a crate root or `mod.rs` to the
//! module they come from. Inline test modules are left out: a test may look
//! at its parent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One crate's modules: module path (`["http", "login"]`) to file.
struct Crate {
    root: PathBuf,
    modules: BTreeMap<Vec<String>, PathBuf>,
}

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits in the workspace")
        .to_path_buf()
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

impl Crate {
    fn read(src: &Path) -> Self {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let modules = files.into_iter().map(|f| (module_of(src, &f), f)).collect();
        Self {
            root: src.to_path_buf(),
            modules,
        }
    }

    /// The file defining `path` or its longest defined prefix, with the
    /// segments left over.
    fn resolve<'a>(&self, path: &'a [String]) -> Option<(Vec<String>, &'a [String])> {
        (0..=path.len()).rev().find_map(|n| {
            self.modules
                .contains_key(&path[..n])
                .then(|| (path[..n].to_vec(), &path[n..]))
        })
    }

    /// Follows a name taken from a crate root or `mod.rs` to the module it
    /// is re-exported from, when it is (`pub use error::AccountError;`).
    fn through_reexports(&self, module: Vec<String>, rest: &[String], depth: usize) -> Vec<String> {
        let Some(name) = rest.first() else {
            return module;
        };
        if depth > 4 {
            return module;
        }
        let file = &self.modules[&module];
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for stmt in use_statements(&strip_tests(&text)) {
            let Some(tree) = stmt.strip_prefix("pub use ") else {
                continue;
            };
            for p in expand(tree) {
                if p.last() == Some(name) && p.len() > 1 {
                    let mut full = module.clone();
                    let from: Vec<String> = match p[0].as_str() {
                        "crate" => p[1..p.len() - 1].to_vec(),
                        "self" => {
                            full.extend(p[1..p.len() - 1].iter().cloned());
                            full
                        }
                        _ => {
                            full.extend(p[..p.len() - 1].iter().cloned());
                            full
                        }
                    };
                    if let Some((m, _)) = self.resolve(&from) {
                        return self.through_reexports(m, &p[p.len() - 1..], depth + 1);
                    }
                }
            }
        }
        module
    }

    /// The modules a file's non-test code takes names from.
    fn imports_of(&self, module: &[String]) -> BTreeSet<Vec<String>> {
        let file = &self.modules[module];
        let text = without_comments(&strip_tests(
            &std::fs::read_to_string(file).unwrap_or_default(),
        ));
        let mut paths: Vec<Vec<String>> = Vec::new();
        for stmt in use_statements(&text) {
            let body = stmt.trim_start_matches("pub ").trim_start_matches("use ");
            paths.extend(expand(body));
        }
        paths.extend(inline_paths(&text));
        let mut out = BTreeSet::new();
        for p in paths {
            let absolute: Vec<String> = match p.first().map(String::as_str) {
                Some("crate") => p[1..].to_vec(),
                Some("super") => {
                    let mut base = module.to_vec();
                    let mut rest = &p[..];
                    while rest.first().map(String::as_str) == Some("super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    base
                }
                Some("self") => {
                    let mut base = module.to_vec();
                    base.extend(p[1..].iter().cloned());
                    base
                }
                _ => continue,
            };
            if let Some((m, rest)) = self.resolve(&absolute) {
                let m = self.through_reexports(m, rest, 0);
                if m != module {
                    out.insert(m);
                }
            }
        }
        out
    }

    fn name(&self, m: &[String]) -> String {
        let f = &self.modules[m];
        f.strip_prefix(&self.root)
            .unwrap_or(f)
            .display()
            .to_string()
    }

    /// The imports between the files of a circle, to say what ties it.
    fn ties(&self, files: &[String]) -> Vec<String> {
        let members: Vec<&Vec<String>> = self
            .modules
            .keys()
            .filter(|m| files.contains(&self.name(m)))
            .collect();
        let mut out = Vec::new();
        for m in &members {
            for to in self.imports_of(m) {
                if members.contains(&&to) {
                    out.push(format!("    {} -> {}", self.name(m), self.name(&to)));
                }
            }
        }
        out
    }

    /// Every circle: strongly connected groups of more than one module.
    fn circles(&self) -> Vec<Vec<String>> {
        let names: Vec<&Vec<String>> = self.modules.keys().collect();
        let index: BTreeMap<&Vec<String>, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let edges: Vec<Vec<usize>> = names
            .iter()
            .map(|n| {
                self.imports_of(n)
                    .iter()
                    .filter_map(|m| index.get(m).copied())
                    .collect()
            })
            .collect();
        tarjan(&edges)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut files: Vec<String> = c
                    .iter()
                    .map(|&i| {
                        self.modules[names[i]]
                            .strip_prefix(&self.root)
                            .unwrap_or(&self.modules[names[i]])
                            .display()
                            .to_string()
                    })
                    .collect();
                files.sort();
                files
            })
            .collect()
    }
}

fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    match last.as_str() {
        "lib.rs" | "main.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// The text without `#[cfg(test)]` items (their braces counted).
pub(crate) fn strip_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find(['{', ';']) else {
            return out;
        };
        if after.as_bytes()[open] == b';' {
            rest = &after[open + 1..];
            continue;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The text without line comments (doc comments included: a link in a doc
/// is no import).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `use …;` statements, each on one line, comments dropped; a re-export
/// keeps its `pub use` start, whatever its visibility.
fn use_statements(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join(" ");
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("use ") {
        let at = from + i;
        from = at + 4;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let before = code[..at].trim_end();
        let (before, public) = match before.rfind("pub") {
            Some(p)
                if before[p..] == *"pub"
                    || before[p..].starts_with("pub(") && before.ends_with(')') =>
            {
                (before[..p].trim_end(), true)
            }
            _ => (before, false),
        };
        let starts = before.is_empty() || before.ends_with([';', '{', '}', ']']);
        if !starts {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        let body = code[at + 4..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.push(if public {
            format!("pub use {body}")
        } else {
            format!("use {body}")
        });
        from = end;
    }
    out
}

/// The paths a `use` tree names: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim().trim_start_matches("use ").trim();
    fn go(prefix: &[String], t: &str, out: &mut Vec<Vec<String>>) {
        let t = t.trim();
        if t.is_empty() {
            return;
        }
        if let Some(open) = t.find('{') {
            let head: Vec<String> = t[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let mut base = prefix.to_vec();
            base.extend(head);
            let inner = &t[open + 1..t.rfind('}').unwrap_or(t.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            go(&base, &inner[start..], out);
        } else {
            let t = t.split(" as ").next().unwrap_or(t);
            let mut p = prefix.to_vec();
            p.extend(
                t.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "*")
                    .map(str::to_owned),
            );
            if p.last().map(String::as_str) == Some("self") {
                p.pop();
            }
            out.push(p);
        }
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// `crate::a::b` and `super::a` paths written in code, outside `use`.
fn inline_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 {
                let b = text.as_bytes()[at - 1];
                if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' {
                    continue;
                }
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segs: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.push(segs);
        }
    }
    out
}

/// Tarjan's strongly connected components.
fn tarjan(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in &s.edges[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on[w] => s.low[v] = s.low[v].min(iw),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut c = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                c.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(c);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crates() -> Vec<(String, Crate)> {
    let ws = workspace();
    let mut out = Vec::new();
    for dir in ["crates", "."] {
        let Ok(entries) = std::fs::read_dir(ws.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let src = e.path().join("src");
            if src.join("lib.rs").exists() || src.join("main.rs").exists() {
                let name = e.file_name().to_string_lossy().into_owned();
                out.push((name, Crate::read(&src)));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn no_module_imports_its_way_back_to_itself() {
    let all = crates();
    assert!(
        all.iter().any(|(n, _)| n == "server") && all.iter().any(|(n, _)| n == "app"),
        "the workspace's crates are found"
    );
    let mut found = Vec::new();
    for (name, c) in &all {
        for circle in c.circles() {
            found.push(format!("{name}: {}", circle.join(" ⇄ ")));
            found.extend(c.ties(&circle));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_reader_sees_a_circle_where_there_is_one() {
    let dir = std::env::temp_dir().join(format!("guichet-arch-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("http")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod a;\npub mod http;\npub use a::Thing;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::http::login::finish;\npub struct Thing;\n",
    )
    .unwrap();
    std::fs::write(src.join("http/mod.rs"), "pub mod login;\n").unwrap();
    std::fs::write(
        src.join("http/login.rs"),
        "use crate::Thing;\npub fn finish() {}\n#[cfg(test)]\nmod tests { use crate::a; }\n",
    )
    .unwrap();
    let c = Crate::read(&src);
    let circles = c.circles();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        circles,
        vec![vec!["a.rs".to_owned(), "http/login.rs".to_owned()]]
    );
}

#[test]
fn test_modules_and_comments_are_not_imports() {
    let text = "// use crate::x;\nuse crate::a::{b, c::{d, e as f}};\n#[cfg(test)]\nmod tests {\n    use crate::z;\n}\nfn g() { crate::h::i(); }\n";
    let stripped = strip_tests(text);
    assert!(!stripped.contains("crate::z"));
    let uses = use_statements(&stripped);
    assert_eq!(uses.len(), 1, "{uses:?}");
    let paths = expand(&uses[0]);
    assert_eq!(
        paths,
        vec![
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c", "d"],
            vec!["crate", "a", "c", "e"],
        ]
        .into_iter()
        .map(|p| p.into_iter().map(str::to_owned).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    assert!(inline_paths(&stripped).contains(&vec![
        "crate".to_owned(),
        "h".to_owned(),
        "i".to_owned()
    ]));
}
