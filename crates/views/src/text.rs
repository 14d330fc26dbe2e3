//! Words on pages. Every word comes from the translation files through these
//! functions; maud escapes every interpolated value, so text a customer typed
//! never becomes markup.

use accounts::{FieldError, FieldProblem};
use app::i18n::{self, Lang};
use maud::PreEscaped;

/// The text `key` in `lang`.
pub fn tr(lang: Lang, key: &str) -> &'static str {
    i18n::t(lang, key)
}

/// The text `key` in `lang` with its `{placeholders}` filled, as plain text
/// (maud escapes it when it is interpolated).
pub fn tr_fmt(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    i18n::format(i18n::t(lang, key), args)
}

/// The text `key` in `lang`, which may hold trusted markup (`<strong>`,
/// `<code>`), with its placeholders filled and escaped.
pub fn tr_html(lang: Lang, key: &str, args: &[(&str, &str)]) -> PreEscaped<String> {
    PreEscaped(i18n::format_html(i18n::t(lang, key), args))
}

/// A refused field's message in `lang`.
pub fn field_message(lang: Lang, p: &FieldProblem) -> String {
    let n = match p {
        FieldProblem::TooLong { max } => max.to_string(),
        FieldProblem::PasswordTooShort { min } => min.to_string(),
        FieldProblem::PasswordTooLong { max_bytes } => max_bytes.to_string(),
        FieldProblem::PasswordReused { count } => count.to_string(),
        _ => String::new(),
    };
    tr_fmt(lang, &format!("page.field.{}", p.code()), &[("n", &n)])
}

/// The message for `field` among `errors`, in `lang`.
pub fn field_error(lang: Lang, errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| field_message(lang, &e.problem))
}

/// `s` encoded for a query string value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
