//! The page shell: document head, header with the signed-in identity and the
//! language switcher, and the main column.

use accounts::Account;
use app::i18n::Lang;
use maud::{DOCTYPE, Markup, html};

use crate::routes;
use crate::text::tr;

/// The name, handle and customer code shown at the top right, as customers
/// expect from the provider's guides.
#[derive(Clone)]
pub struct Who<'a> {
    /// Full name.
    pub name: String,
    /// Customer handle.
    pub handle: &'a str,
    /// Customer code.
    pub code: &'a str,
}

impl<'a> Who<'a> {
    /// The header identity of an account.
    pub fn of(a: &'a Account) -> Self {
        Self {
            name: format!("{} {}", a.first_name, a.last_name),
            handle: &a.handle,
            code: &a.customer_code,
        }
    }
}

/// The language switcher: plain links, so it works without JavaScript, each
/// coming back to the page it was clicked on.
fn switcher(lang: Lang) -> Markup {
    let back = crate::context::back();
    html! {
        nav.lang aria-label=(tr(lang, "page.common.language")) {
            @for l in Lang::ALL {
                @let name = tr(l, &format!("page.common.lang_{}", l.code()));
                @if l == lang {
                    span aria-current="true" lang=(l.code()) { (name) }
                } @else {
                    a href=(routes::lang(l.code(), &back)) hreflang=(l.code()) lang=(l.code()) { (name) }
                }
            }
        }
    }
}

/// The frame of every page, in `lang`: the header (with the account's name,
/// handle and code when someone is signed in) and the language switcher.
pub fn layout(lang: Lang, title: &str, who: Option<Who<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Guichet" }
                link rel="stylesheet" href=(routes::STYLESHEET);
            }
            body {
                header.top {
                    a.brand href=(routes::HOME) { "Guichet" }
                    (switcher(lang))
                    @if let Some(w) = who {
                        div.who {
                            strong { (w.name) }
                            span { (w.handle) " · " (w.code) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page with a title and one message.
pub fn message(lang: Lang, title: &str, text: &str) -> Markup {
    layout(
        lang,
        title,
        None,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href=(routes::HOME) { (tr(lang, "page.common.back_home")) } }
        },
    )
}
