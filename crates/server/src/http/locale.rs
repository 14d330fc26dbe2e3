//! The language of a request: what the browser, the switcher's cookie and a
//! relying party's `ui_locales` say, read once per request by the language
//! middleware and kept in a task-local so that every page, error and JSON
//! message of the request speaks it.

use super::cookies;
use app::i18n::Lang;
use views::routes;

/// The `lang` cookie the language switcher sets: it wins over everything else.
pub const LANG_COOKIE: &str = "guichet_lang";

/// The `ui_locales` a relying party asked for on `/oauth2/authorize`, kept in a
/// short-lived cookie so that the login detour (password, second factor,
/// mailed code) and the consent page speak it without carrying it in URLs.
pub const UI_LOCALES_COOKIE: &str = "guichet_ui_locales";

/// What the request says about languages, read once by
/// [`crate::http::middleware::language`]. The account's profile language sits
/// between `ui_locales` and `Accept-Language`, so the choice is finished by
/// [`negotiate`] once the account is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LangHints {
    /// The switcher's cookie.
    pub cookie: Option<Lang>,
    /// The relying party's `ui_locales`, carried through the login detour.
    pub ui_locales: Option<Lang>,
    /// The best supported language of `Accept-Language`.
    pub accept: Option<Lang>,
}

impl LangHints {
    /// Reads the hints from the request's cookies and headers.
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Self {
        Self {
            cookie: cookies::read(headers, LANG_COOKIE).and_then(supported),
            ui_locales: cookies::read(headers, UI_LOCALES_COOKIE).and_then(first_supported),
            accept: headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(best_accepted),
        }
    }

    /// The language, in the one order Guichet follows: the switcher's cookie,
    /// the signed-in account's profile, `ui_locales`, `Accept-Language`,
    /// then English.
    pub fn resolve(self, account: Option<Lang>) -> Lang {
        self.cookie
            .or(account)
            .or(self.ui_locales)
            .or(self.accept)
            .unwrap_or(Lang::En)
    }
}

/// A language tag we speak, or `None` (unlike [`Lang::parse`], which falls
/// back to English): an unsupported choice must let the next hint decide.
pub fn supported(tag: &str) -> Option<Lang> {
    let primary = tag.trim().split(['-', '_']).next()?;
    Lang::ALL
        .into_iter()
        .find(|l| l.code().eq_ignore_ascii_case(primary))
}

/// The first supported tag of a space-separated `ui_locales` list (OIDC
/// Core §3.1.2.1: in order of preference).
pub fn first_supported(list: &str) -> Option<Lang> {
    list.split([' ', '+']).find_map(supported)
}

/// The supported language with the highest q-value in an `Accept-Language`
/// header (RFC 9110 §12.5.4); `q=0` means "not this one"; ties keep the
/// header's order.
pub fn best_accepted(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, u16)> = None;
    for item in header.split(',').take(32) {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(supported) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|v| v.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let q = (q * 1000.0) as u16;
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(l, _)| l)
}

/// The language state of one request.
struct RequestLang {
    hints: LangHints,
    chosen: std::cell::Cell<Lang>,
    /// The local address the switcher sends the browser back to.
    back: String,
}

tokio::task_local! {
    /// The language of the request being served, so that error pages and
    /// refusals built far from any handler (middleware, `AppError`) speak it,
    /// and the switcher in every page knows which page to come back to.
    static REQUEST_LANG: RequestLang;
}

/// Runs `fut` (the rest of a request) with these hints; the language starts
/// as what the hints alone give and [`negotiate`] refines it. `back` is the
/// page the language switcher returns to.
pub async fn with_hints<F: std::future::Future>(
    hints: LangHints,
    back: String,
    fut: F,
) -> F::Output {
    let state = RequestLang {
        hints,
        chosen: std::cell::Cell::new(hints.resolve(None)),
        back,
    };
    REQUEST_LANG.scope(state, fut).await
}

/// The page the language switcher sends the browser back to: the current
/// one, or `/` outside a request.
pub fn switcher_back() -> String {
    REQUEST_LANG
        .try_with(|r| r.back.clone())
        .unwrap_or_else(|_| routes::HOME.to_owned())
}

/// Finishes the choice once the account (if any) is known, and remembers it
/// for the error pages of the rest of the request. The one place the order of
/// [`LangHints::resolve`] is applied for a request.
pub fn negotiate(account: Option<Lang>) -> Lang {
    negotiate_with(account, None)
}

/// [`negotiate`] when the `ui_locales` of an authorization request is known
/// better than its cookie (the request that carries it, the consent page).
pub fn negotiate_with(account: Option<Lang>, ui_locales: Option<Lang>) -> Lang {
    REQUEST_LANG
        .try_with(|r| {
            let hints = LangHints {
                ui_locales: ui_locales.or(r.hints.ui_locales),
                ..r.hints
            };
            let lang = hints.resolve(account);
            r.chosen.set(lang);
            lang
        })
        .unwrap_or_else(|_| account.or(ui_locales).unwrap_or(Lang::En))
}

/// The language chosen so far for the current request (English outside one).
pub fn current_lang() -> Lang {
    REQUEST_LANG
        .try_with(|r| r.chosen.get())
        .unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_respects_q_values() {
        assert_eq!(best_accepted("fr-CH, fr;q=0.9, en;q=0.8"), Some(Lang::Fr));
        assert_eq!(best_accepted("de, en;q=0.5, it;q=0.7"), Some(Lang::It));
        assert_eq!(best_accepted("it;q=0, fr;q=0.1"), Some(Lang::Fr));
        assert_eq!(best_accepted("de, es"), None);
        assert_eq!(best_accepted("en;q=0.5, fr;q=0.5"), Some(Lang::En));
        assert_eq!(best_accepted(""), None);
    }

    #[test]
    fn the_order_is_cookie_profile_ui_locales_accept() {
        let h = LangHints {
            cookie: None,
            ui_locales: Some(Lang::It),
            accept: Some(Lang::Fr),
        };
        assert_eq!(h.resolve(None), Lang::It);
        assert_eq!(h.resolve(Some(Lang::En)), Lang::En);
        let h = LangHints {
            cookie: Some(Lang::Fr),
            ..h
        };
        assert_eq!(h.resolve(Some(Lang::En)), Lang::Fr);
        assert_eq!(LangHints::default().resolve(None), Lang::En);
        assert_eq!(first_supported("de-DE it fr"), Some(Lang::It));
    }
}
