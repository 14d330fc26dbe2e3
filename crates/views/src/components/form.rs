//! Forms and their fields. A posted form always carries the anti-CSRF field,
//! and a field always carries its label, its hint and its error, tied to the
//! input so that assistive technology reads them together.

use maud::{Markup, Render, html};

/// A hidden input: state the form carries back (a token, the next page).
pub fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// A form. [`Form::post`] puts the anti-CSRF field first; [`Form::get`] is for
/// forms that change nothing and so carry none.
#[derive(Clone, Debug)]
pub struct Form<'a> {
    method: &'static str,
    action: &'a str,
    csrf: Option<&'a str>,
    id: Option<&'a str>,
    class: Option<&'a str>,
    novalidate: bool,
    hidden: Vec<(&'a str, &'a str)>,
}

impl<'a> Form<'a> {
    /// A form posted to `action` with the session's anti-CSRF token.
    pub fn post(action: &'a str, csrf: &'a str) -> Self {
        Self {
            method: "post",
            action,
            csrf: Some(csrf),
            id: None,
            class: None,
            novalidate: false,
            hidden: Vec::new(),
        }
    }

    /// A form posted from a page no session stands behind (a mailed reset
    /// link): the secret it carries back in a hidden field stands in for the
    /// anti-CSRF token.
    pub fn post_sessionless(action: &'a str) -> Self {
        Self {
            csrf: None,
            ..Self::post(action, "")
        }
    }

    /// A form that only reads (a search, a filter).
    pub fn get(action: &'a str) -> Self {
        Self {
            method: "get",
            csrf: None,
            ..Self::post(action, "")
        }
    }

    /// The element id.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// A layout class (`inline` for a one-button form in a row).
    pub fn class(mut self, class: &'a str) -> Self {
        self.class = Some(class);
        self
    }

    /// Leaves checking to the server, whose messages are translated.
    pub fn novalidate(mut self) -> Self {
        self.novalidate = true;
        self
    }

    /// A hidden field sent back with the form.
    pub fn hidden(mut self, name: &'a str, value: &'a str) -> Self {
        self.hidden.push((name, value));
        self
    }

    /// The form around `body`.
    pub fn with(&self, body: Markup) -> Markup {
        html! {
            form class=[self.class] id=[self.id] method=(self.method) action=(self.action) novalidate[self.novalidate] {
                @if let Some(token) = self.csrf { (hidden("csrf", token)) }
                @for (name, value) in &self.hidden { (hidden(name, value)) }
                (body)
            }
        }
    }
}

/// A labelled input with its hint and its error.
#[derive(Clone, Debug)]
pub struct Field<'a> {
    name: &'a str,
    id: Option<&'a str>,
    label: &'a str,
    kind: &'a str,
    value: Option<&'a str>,
    autocomplete: Option<&'a str>,
    inputmode: Option<&'a str>,
    maxlength: Option<usize>,
    hint: Option<&'a str>,
    error: Option<String>,
    described_by: Option<&'a str>,
    placeholder: Option<&'a str>,
    hidden_label: bool,
    required: bool,
    verbatim: bool,
    autofocus: bool,
}

impl<'a> Field<'a> {
    /// A text input called `name` with `label`.
    pub fn new(name: &'a str, label: &'a str) -> Self {
        Self {
            name,
            id: None,
            label,
            kind: "text",
            value: None,
            autocomplete: None,
            inputmode: None,
            maxlength: None,
            hint: None,
            error: None,
            described_by: None,
            placeholder: None,
            hidden_label: false,
            required: false,
            verbatim: false,
            autofocus: false,
        }
    }

    /// The input type (`email`, `password`, `tel`, ...).
    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    /// The element id when it must differ from the name.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// The value shown back.
    pub fn value(mut self, value: &'a str) -> Self {
        self.value = Some(value);
        self
    }

    /// What the browser may fill in.
    pub fn autocomplete(mut self, what: &'a str) -> Self {
        self.autocomplete = Some(what);
        self
    }

    /// The keyboard a phone shows (`numeric` for codes).
    pub fn inputmode(mut self, mode: &'a str) -> Self {
        self.inputmode = Some(mode);
        self
    }

    /// The longest value the input takes.
    pub fn maxlength(mut self, n: usize) -> Self {
        self.maxlength = Some(n);
        self
    }

    /// A line under the input that helps fill it.
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// The message saying why the value was refused.
    pub fn error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    /// The id of a message elsewhere on the page that describes the input.
    pub fn described_by(mut self, id: Option<&'a str>) -> Self {
        self.described_by = id;
        self
    }

    /// An example shown in the empty input.
    pub fn placeholder(mut self, example: &'a str) -> Self {
        self.placeholder = Some(example);
        self
    }

    /// The label is read by assistive technology only (a field in a table
    /// row, whose column header says what it is).
    pub fn hide_label(mut self) -> Self {
        self.hidden_label = true;
        self
    }

    /// The browser refuses to submit it empty.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// A value typed exactly (identifiers, codes): no capitals, no spelling.
    pub fn verbatim(mut self) -> Self {
        self.verbatim = true;
        self
    }

    /// The input the cursor starts in.
    pub fn autofocus(mut self) -> Self {
        self.autofocus = true;
        self
    }
}

impl Render for Field<'_> {
    fn render(&self) -> Markup {
        let id = self.id.unwrap_or(self.name);
        let err_id = format!("{id}-error");
        let described = match (&self.error, self.described_by) {
            (Some(_), _) => Some(err_id.as_str()),
            (None, other) => other,
        };
        html! {
            label class=[self.hidden_label.then_some("visually-hidden")] for=(id) { (self.label) }
            input type=(self.kind) id=(id) name=(self.name) value=[self.value]
                placeholder=[self.placeholder]
                autocomplete=[self.autocomplete] inputmode=[self.inputmode]
                maxlength=[self.maxlength]
                autocapitalize=[self.verbatim.then_some("none")]
                spellcheck=[self.verbatim.then_some("false")]
                required[self.required] autofocus[self.autofocus]
                aria-invalid=[self.error.as_ref().map(|_| "true")]
                aria-describedby=[described];
            @if let Some(e) = &self.error {
                p.field-error id=(err_id) { (e) }
            }
            @if let Some(h) = self.hint {
                p.hint { (h) }
            }
        }
    }
}

/// A labelled choice among options, with its error.
#[derive(Clone, Debug)]
pub struct Select<'a> {
    name: &'a str,
    id: Option<&'a str>,
    label: &'a str,
    options: &'a [(&'a str, &'a str)],
    chosen: &'a str,
    autocomplete: Option<&'a str>,
    error: Option<String>,
}

impl<'a> Select<'a> {
    /// A choice called `name` among `(value, text)` options.
    pub fn new(
        name: &'a str,
        label: &'a str,
        options: &'a [(&'a str, &'a str)],
        chosen: &'a str,
    ) -> Self {
        Self {
            name,
            id: None,
            label,
            options,
            chosen,
            autocomplete: None,
            error: None,
        }
    }

    /// What the browser may fill in.
    pub fn autocomplete(mut self, what: &'a str) -> Self {
        self.autocomplete = Some(what);
        self
    }

    /// The element id when it must differ from the name.
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// The message saying why the choice was refused.
    pub fn error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }
}

impl Render for Select<'_> {
    fn render(&self) -> Markup {
        let id = self.id.unwrap_or(self.name);
        let err_id = format!("{id}-error");
        html! {
            label for=(id) { (self.label) }
            select id=(id) name=(self.name) autocomplete=[self.autocomplete]
                aria-invalid=[self.error.as_ref().map(|_| "true")]
                aria-describedby=[self.error.as_ref().map(|_| err_id.as_str())] {
                @for (value, text) in self.options {
                    option value=(value) selected[*value == self.chosen] { (text) }
                }
            }
            @if let Some(e) = &self.error { p.field-error id=(err_id) { (e) } }
        }
    }
}

/// A checkbox followed by its label.
#[derive(Clone, Debug)]
pub struct Checkbox<'a> {
    /// The element id.
    pub id: &'a str,
    /// The field name.
    pub name: &'a str,
    /// The value sent when ticked.
    pub value: &'a str,
    /// The label.
    pub label: &'a str,
    /// Ticked when the page opens.
    pub checked: bool,
}

impl Render for Checkbox<'_> {
    fn render(&self) -> Markup {
        html! {
            input type="checkbox" id=(self.id) name=(self.name) value=(self.value) checked[self.checked];
            label for=(self.id) { (self.label) }
        }
    }
}

/// One radio button followed by its label.
#[derive(Clone, Debug)]
pub struct Radio<'a> {
    /// The element id.
    pub id: &'a str,
    /// The group's field name.
    pub name: &'a str,
    /// The value sent when chosen.
    pub value: &'a str,
    /// The label.
    pub label: &'a str,
    /// Chosen when the page opens.
    pub checked: bool,
}

impl Render for Radio<'_> {
    fn render(&self) -> Markup {
        html! {
            input type="radio" id=(self.id) name=(self.name) value=(self.value) checked[self.checked];
            label for=(self.id) { (self.label) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_form_carries_its_token_first() {
        let html = Form::post("/x", "tok&en")
            .hidden("next", "/a")
            .with(html! { p { "body" } })
            .into_string();
        assert_eq!(
            html,
            r#"<form method="post" action="/x"><input type="hidden" name="csrf" value="tok&amp;en"><input type="hidden" name="next" value="/a"><p>body</p></form>"#
        );
        let get = Form::get("/y").with(html! {}).into_string();
        assert!(!get.contains("csrf"), "{get}");
    }

    #[test]
    fn a_refused_field_is_tied_to_its_message() {
        let html = Field::new("email", "Email")
            .kind("email")
            .value("a@b")
            .hint("We write here")
            .error(Some("Not an address".into()))
            .render()
            .into_string();
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(html.contains(r#"aria-describedby="email-error""#), "{html}");
        assert!(
            html.contains(r#"<p class="field-error" id="email-error">Not an address</p>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<p class="hint">We write here</p>"#),
            "{html}"
        );
        let fine = Field::new("email", "Email").render().into_string();
        assert!(!fine.contains("aria-invalid"), "{fine}");
    }
}
