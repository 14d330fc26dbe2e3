//! The words Guichet shows customers, in English, French and Italian.
//!
//! Texts live in `locales/<lang>/<area>.toml`, compiled into the binary, so that a
//! translator edits text files and never Rust code. Tables nest
//! (`[mail.welcome]`, `[page.login]`); a key is the dotted path to a string
//! (`mail.welcome.subject`). Values may hold `{name}` placeholders that
//! [`format`] and [`format_html`] fill. The unit tests hold the three languages
//! to the same keys and the same placeholders, so a translation cannot drift
//! from the English one without the build failing.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// A language Guichet speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English, also the fallback for anything we do not speak.
    En,
    /// French.
    Fr,
    /// Italian.
    It,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::It];

    /// Reads a language tag (`fr`, `FR`, `fr-CH`, `it_IT`); anything we do
    /// not speak gives English rather than an error, because a customer must
    /// always get a readable mail.
    pub fn parse(s: &str) -> Lang {
        let primary = s.trim().split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "fr" => Lang::Fr,
            "it" => Lang::It,
            _ => Lang::En,
        }
    }

    /// The ISO 639-1 code, for `lang` attributes.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::It => "it",
        }
    }

    /// Position in [`Lang::ALL`] and in the catalogue.
    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::Fr => 1,
            Lang::It => 2,
        }
    }
}

impl From<accounts::Language> for Lang {
    fn from(l: accounts::Language) -> Self {
        match l {
            accounts::Language::En => Lang::En,
            accounts::Language::Fr => Lang::Fr,
            accounts::Language::It => Lang::It,
        }
    }
}

/// One translation file per language and area, so that areas (mail, each
/// group of pages) are edited, reviewed and merged apart. A key lives in one
/// area of each language; the tests refuse a key defined twice.
macro_rules! area {
    ($area:literal) => {
        [
            concat!("en/", $area, ".toml"),
            include_str!(concat!("../locales/en/", $area, ".toml")),
            include_str!(concat!("../locales/fr/", $area, ".toml")),
            include_str!(concat!("../locales/it/", $area, ".toml")),
        ]
    };
}

/// Every area: its English file name, then its source in [`Lang::ALL`] order.
/// Adding an area is one line here and a file per language.
const SOURCES: &[[&str; 4]] = &[
    area!("mail"),
    area!("security_panel"),
    area!("gdpr"),
    area!("contacts"),
    area!("pages"),
    area!("security"),
    area!("recovery"),
    area!("panel"),
    area!("users"),
];

/// Every language's messages by dotted key.
struct Catalogue {
    messages: [HashMap<String, String>; 3],
}

/// Parsed once, on first use. A file that does not parse (which the unit tests
/// rule out) is logged and left empty, so lookups fall back to English and then
/// to the key itself rather than taking a request down.
static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| Catalogue {
    messages: Lang::ALL.map(|lang| {
        load(lang).unwrap_or_else(|e| {
            tracing::error!(lang = lang.code(), error = %e, "translation file not loaded");
            HashMap::new()
        })
    }),
});

/// Every area of one language, merged; a key defined in two areas is an error.
fn load(lang: Lang) -> Result<HashMap<String, String>, String> {
    let mut all = HashMap::new();
    for area in SOURCES {
        let src = area[1 + lang.index()];
        let part =
            parse_catalogue(src).map_err(|e| format!("{} ({}): {e}", area[0], lang.code()))?;
        for (k, v) in part {
            if all.insert(k.clone(), v).is_some() {
                return Err(format!("{k} is defined twice"));
            }
        }
    }
    Ok(all)
}

/// Flattens one locale file into dotted keys. Anything but strings and tables
/// is refused: a number or a list would be a translator's slip, not a text.
fn parse_catalogue(src: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = src.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = HashMap::new();
    flatten("", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out)?,
            _ => return Err(format!("{key}: only strings and tables are allowed")),
        }
    }
    Ok(())
}

/// The message `key` in `lang`; the English one when that language lacks it;
/// when English lacks it too, an empty string in release builds (logged: a
/// missing text must not take a request down) and a visible `⟦key⟧` marker in
/// debug builds, which the end-to-end page tests look for.
pub fn t(lang: Lang, key: &str) -> &'static str {
    let c = &*CATALOGUE;
    if let Some(s) = c.messages[lang.index()].get(key) {
        return s;
    }
    if let Some(s) = c.messages[Lang::En.index()].get(key) {
        tracing::warn!(lang = lang.code(), key, "message missing; English used");
        return s;
    }
    tracing::error!(key, "message missing in every language");
    missing(key)
}

#[cfg(debug_assertions)]
fn missing(key: &str) -> &'static str {
    // Debug builds only, and only for a bug the tests are there to catch:
    // leaking the marker keeps `t`'s signature free of lifetimes.
    Box::leak(format!("⟦{key}⟧").into_boxed_str())
}

#[cfg(not(debug_assertions))]
fn missing(_key: &str) -> &'static str {
    ""
}

/// Fills `{name}` placeholders from `args`, for plain text and subjects.
/// Values are inserted as they are and never scanned again, so a customer
/// whose name is `{link}` gets that name, not a link. A placeholder without a
/// value is left as it is, where the tests see it.
pub fn format(template: &str, args: &[(&str, &str)]) -> String {
    fill(template, args, |v, out| out.push_str(v))
}

/// Like [`format`] for HTML: every value is escaped, because names, handles,
/// labels and browser strings are typed by someone else. The template itself
/// is trusted markup.
pub fn format_html(template: &str, args: &[(&str, &str)]) -> String {
    fill(template, args, |v, out| out.push_str(&escape_html(v)))
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(template: &str, args: &[(&str, &str)], put: impl Fn(&str, &mut String)) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            let value = is_placeholder_name(name)
                .then(|| args.iter().find(|(n, _)| *n == name))
                .flatten()?;
            Some((value.1, close))
        });
        match value {
            Some((v, close)) => {
                put(v, &mut out);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_placeholder_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The placeholder names a text uses (`{name}` with a lowercase name); the
/// tests compare them across languages and look for any left unfilled.
pub fn placeholders(s: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}')
            && is_placeholder_name(&after[..close])
        {
            found.insert(&after[..close]);
        }
        rest = after;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<(Lang, HashMap<String, String>)> {
        Lang::ALL
            .iter()
            .map(|l| (*l, load(*l).unwrap_or_else(|e| panic!("{l:?}: {e}"))))
            .collect()
    }

    #[test]
    fn every_file_parses_into_strings() {
        for (lang, m) in all() {
            assert!(!m.is_empty(), "{lang:?} is empty");
            for (k, v) in &m {
                assert!(!v.trim().is_empty(), "{lang:?} {k} is blank");
            }
        }
    }

    #[test]
    fn the_three_files_have_the_same_keys() {
        let langs = all();
        let en: BTreeSet<&String> = langs[0].1.keys().collect();
        for (lang, m) in &langs[1..] {
            let other: BTreeSet<&String> = m.keys().collect();
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang:?} has keys English lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn every_translation_uses_the_same_placeholders() {
        let langs = all();
        for (key, en) in &langs[0].1 {
            let want = placeholders(en);
            for (lang, m) in &langs[1..] {
                let Some(text) = m.get(key) else { continue };
                assert_eq!(placeholders(text), want, "{lang:?} {key}");
            }
        }
    }

    #[test]
    fn a_dropped_placeholder_is_caught() {
        // The check above compares sets; make sure it would see a loss.
        assert_ne!(
            placeholders("Bonjour {first_name}, compte {handle}"),
            placeholders("Bonjour, compte {handle}")
        );
    }

    #[test]
    fn only_mail_and_page_sections_at_the_top() {
        for src in SOURCES.iter().flat_map(|a| &a[1..]) {
            let table: toml::Table = src.parse().unwrap();
            for k in table.keys() {
                assert!(k == "mail" || k == "page", "unexpected top-level table {k}");
            }
        }
    }

    #[test]
    fn languages_parse_and_fall_back_to_english() {
        assert_eq!(Lang::parse("fr"), Lang::Fr);
        assert_eq!(Lang::parse(" IT "), Lang::It);
        assert_eq!(Lang::parse("fr-CH"), Lang::Fr);
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::parse("de"), Lang::En);
        assert_eq!(Lang::parse(""), Lang::En);
        assert_eq!(Lang::parse("français"), Lang::En);
        assert_eq!(Lang::from(accounts::Language::It), Lang::It);
    }

    #[test]
    fn lookups_translate_and_fall_back() {
        let en = t(Lang::En, "mail.welcome.subject");
        let fr = t(Lang::Fr, "mail.welcome.subject");
        assert!(en.contains("{handle}"));
        assert_ne!(en, fr);
        let missing = t(Lang::It, "no.such.key");
        if cfg!(debug_assertions) {
            assert_eq!(missing, "⟦no.such.key⟧");
        } else {
            assert_eq!(missing, "");
        }
    }

    #[test]
    fn format_fills_placeholders_once() {
        let s = format(
            "Hello {first_name}, see {link}. {unknown} {not a name} {",
            &[("first_name", "{link}"), ("link", "https://x/?a=1&b=2")],
        );
        assert_eq!(
            s,
            "Hello {link}, see https://x/?a=1&b=2. {unknown} {not a name} {"
        );
    }

    #[test]
    fn format_html_escapes_values_not_the_template() {
        let s = format_html(
            "<p>Hello {first_name}</p><a href=\"{link}\">x</a>",
            &[
                ("first_name", "<script>alert('x')</script>"),
                ("link", "https://x/?a=1&b=\"2\""),
            ],
        );
        assert_eq!(
            s,
            "<p>Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>\
             <a href=\"https://x/?a=1&amp;b=&quot;2&quot;\">x</a>"
        );
    }

    #[test]
    fn placeholders_are_found() {
        let p = placeholders("{a} {b_2} {Not} {} {c");
        assert_eq!(p.into_iter().collect::<Vec<_>>(), vec!["a", "b_2"]);
    }
}
