//! What a page needs to know about the request it answers, without knowing
//! HTTP: the server installs a provider once, and the layout asks it.

use std::sync::OnceLock;

/// Gives the path (with its query) a language switch should come back to.
pub type BackProvider = fn() -> String;

static BACK: OnceLock<BackProvider> = OnceLock::new();

/// Installs the provider of the page's own path. Later calls keep the first
/// provider: a process serves one router shape.
pub fn install_back_provider(provider: BackProvider) {
    let _ = BACK.set(provider);
}

/// The path the language switcher links come back to; the home page when no
/// provider is installed (unit tests, pages rendered outside a request).
pub fn back() -> String {
    BACK.get()
        .map_or_else(|| crate::routes::HOME.to_owned(), |p| p())
}
