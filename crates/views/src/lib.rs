//! Guichet's presentation layer: every page the server renders, the
//! components they are built from, the table of routes every URL comes from,
//! and the static assets.
//!
//! The crate knows no HTTP. Handlers gather plain data, call one function
//! here and send the [`maud::Markup`] it returns; what a request looks like
//! stays in the server crate.

pub mod assets;
pub mod components;
pub mod context;
pub mod pages;
pub mod routes;
pub mod text;

#[cfg(test)]
mod css_check;
#[cfg(test)]
mod literal_check;

pub use maud::{Markup, PreEscaped, html};
