//! Every page, one module per thing a person does. Each function takes plain
//! data and returns the whole page.

pub mod account;
pub mod consent;
pub mod contacts;
pub mod gdpr;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod panel;
pub mod problem;
pub mod recovery;
pub mod security_panel;
pub mod signup;
pub mod users;

use accounts::FieldError;
use app::i18n::Lang;

use crate::components::Field;
use crate::text::field_error;

/// A labelled input whose error, in the page's language, comes from the
/// field problems `errors` found in what was posted.
fn input<'a>(
    lang: Lang,
    errors: &[FieldError],
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    value: &'a str,
    auto: &'a str,
) -> Field<'a> {
    Field::new(name, label)
        .kind(kind)
        .value(value)
        .autocomplete(auto)
        .error(field_error(lang, errors, name))
}
