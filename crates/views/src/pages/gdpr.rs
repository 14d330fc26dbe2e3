//! "My data": the download of everything held about the account, and its
//! erasure.

use accounts::gdpr::Hold;
use app::i18n::{self, Lang, t};
use maud::{Markup, html};

use crate::components::{Button, Field, Form, Notice, Who, layout, notice};
use crate::routes;

fn tr(lang: Lang, key: &str) -> &'static str {
    t(lang, &format!("page.gdpr.{key}"))
}

fn hold_text(lang: Lang, kind: &str) -> String {
    match kind {
        "open_services" | "unpaid_invoices" => tr(lang, &format!("hold_{kind}")).to_owned(),
        other => i18n::format(tr(lang, "hold_other"), &[("kind", other)]),
    }
}

/// What the data page shows.
pub struct DataView<'a> {
    /// The page's language.
    pub lang: Lang,
    /// The header identity.
    pub who: Who<'a>,
    /// The session's anti-CSRF token.
    pub csrf: &'a str,
    /// The account's handle, typed again to confirm an erasure.
    pub handle: &'a str,
    /// What other systems hold the account for (no erasure while any).
    pub holds: &'a [Hold],
    /// Whether the person acting may erase (the holder only).
    pub may_erase: bool,
    /// Why the typed handle was refused.
    pub confirm_error: Option<&'a str>,
}

/// The data page: the download, then the erasure (or what stops it).
pub fn data_page(v: &DataView<'_>) -> Markup {
    let l = v.lang;
    let label = i18n::format(tr(l, "erase_confirm_label"), &[("handle", v.handle)]);
    layout(
        l,
        tr(l, "title"),
        Some(v.who.clone()),
        html! {
            h1 { (tr(l, "title")) }
            section {
                h2 { (tr(l, "export_title")) }
                p { (tr(l, "export_intro")) }
                p { a.button id="download-data" href=(routes::DATA_EXPORT) download { (tr(l, "export_button")) } }
            }
            section {
                h2 { (tr(l, "erase_title")) }
                p { (tr(l, "erase_intro")) }
                @if !v.holds.is_empty() {
                    (notice(Notice::Error, Some("holds"), html! {
                        p { (tr(l, "erase_held")) }
                        ul { @for h in v.holds {
                            li {
                                (hold_text(l, &h.kind))
                                @if !h.reference.is_empty() { " (" (h.reference) ")" }
                                @if !h.note.is_empty() { ": " (h.note) }
                            }
                        } }
                    }))
                } @else if v.may_erase {
                    (Form::post(routes::ERASE, v.csrf).with(html! {
                        (Field::new("confirm", &label).autocomplete("off").required()
                            .error(v.confirm_error.map(str::to_owned)))
                        (notice(Notice::Warning, None, html! { (tr(l, "erase_warning")) }))
                        (Button::primary(tr(l, "erase_button")))
                    }))
                } @else {
                    p.hint { (tr(l, "erase_holder_only")) }
                }
            }
        },
    )
}
