//! Things a page shows rather than asks: notices and tables.

use maud::{Markup, html};

/// The kind of a notice, which sets its colour and how assistive technology
/// announces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Neutral information.
    Info,
    /// Something the reader asked for was done.
    Success,
    /// Something the reader should know before going on.
    Warning,
    /// Something went wrong; announced at once.
    Error,
}

/// A notice of `kind` holding `body`, with an optional id (tests and
/// `aria-describedby` refer to it).
pub fn notice(kind: Notice, id: Option<&str>, body: Markup) -> Markup {
    match kind {
        Notice::Info => html! { p.info id=[id] { (body) } },
        Notice::Success => html! { div.notice role="status" id=[id] { (body) } },
        Notice::Warning => html! { p.warning id=[id] { (body) } },
        Notice::Error => html! { div.alert role="alert" id=[id] { (body) } },
    }
}

/// A table with a header row and `rows` already rendered as cells.
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<Markup>>) -> Markup {
    html! {
        table {
            thead { tr { @for h in headers { th scope="col" { (h) } } } }
            tbody {
                @for row in rows {
                    tr { @for cell in row { td { (cell) } } }
                }
            }
        }
    }
}
