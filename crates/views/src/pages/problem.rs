//! The description of an API problem type (`GET /problems/{slug}`).

use app::i18n::Lang;
use maud::{Markup, html};

use crate::components::layout;

/// The page explaining a problem type: for developers, in English like the
/// `title` it explains.
pub fn problem_type(title: &str, uri: &str, advice: &str) -> Markup {
    layout(
        Lang::En,
        title,
        None,
        html! {
            h1 { (title) }
            p { "Problem type " code { (uri) } ", answered as " code { "application/problem+json" } " (RFC 9457)." }
            p { (advice) }
        },
    )
}
