//! The building blocks of every page: the page shell, forms and their
//! fields, buttons by role, notices and tables. Pages compose these and
//! write no `form`, `input` or `button` element themselves, so that the
//! anti-CSRF field, labels, error wiring and classes stay the same
//! everywhere.

mod button;
mod form;
mod nav;
mod shell;
mod show;

pub use button::{Button, Role, link_button};
pub use form::{Checkbox, Field, Form, Radio, Select, hidden};
pub use nav::security_nav;
pub use shell::{Who, layout, message};
pub use show::{Notice, notice, table};
