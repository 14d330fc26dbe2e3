//! Buttons by role. The role, not the page, decides how a button looks.

use maud::{Markup, html};

/// What pressing a button does, as the reader should see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The one action the page is for (the stylesheet's default button).
    Primary,
    /// An action beside the main one.
    Secondary,
    /// An action that removes or ends something.
    Danger,
    /// A quiet action that reads like a link (refuse, cancel).
    Link,
}

impl Role {
    /// The class the stylesheet styles the role with.
    pub(crate) fn class(self) -> Option<&'static str> {
        match self {
            Self::Primary => None,
            Self::Secondary => Some("secondary"),
            Self::Danger => Some("danger"),
            Self::Link => Some("link"),
        }
    }
}

/// A submit (or script-driven) button.
#[derive(Clone, Debug)]
pub struct Button<'a> {
    role: Role,
    label: &'a str,
    id: Option<&'a str>,
    name_value: Option<(&'a str, &'a str)>,
    script: bool,
    disabled: bool,
}

impl<'a> Button<'a> {
    /// A submit button with `label`.
    pub fn new(role: Role, label: &'a str) -> Self {
        Self {
            role,
            label,
            id: None,
            name_value: None,
            script: false,
            disabled: false,
        }
    }

    /// The main submit button.
    pub fn primary(label: &'a str) -> Self {
        Self::new(Role::Primary, label)
    }

    /// A secondary submit button.
    pub fn secondary(label: &'a str) -> Self {
        Self::new(Role::Secondary, label)
    }

    /// A destructive submit button.
    pub fn danger(label: &'a str) -> Self {
        Self::new(Role::Danger, label)
    }

    /// The element id (scripts and browser tests find the button by it).
    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    /// The `name=value` pair the button submits (several decisions in one form).
    pub fn submits(mut self, name: &'a str, value: &'a str) -> Self {
        self.name_value = Some((name, value));
        self
    }

    /// A `type="button"` driven by a script rather than submitting.
    pub fn scripted(mut self) -> Self {
        self.script = true;
        self
    }

    /// Shown but not pressable.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }
}

impl maud::Render for Button<'_> {
    fn render(&self) -> Markup {
        let kind = if self.script { "button" } else { "submit" };
        html! {
            button class=[self.role.class()] id=[self.id] type=(kind)
                name=[self.name_value.map(|p| p.0)] value=[self.name_value.map(|p| p.1)]
                disabled[self.disabled] { (self.label) }
        }
    }
}

/// A link that looks like a button of `role` (a way out of a form that
/// changes nothing).
pub fn link_button(role: Role, href: &str, label: &str) -> Markup {
    let class = match role.class() {
        Some(c) => format!("button {c}"),
        None => "button".to_owned(),
    };
    html! { a class=(class) href=(href) { (label) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maud::Render;

    #[test]
    fn the_role_sets_the_class() {
        let primary = Button::primary("Go").render().into_string();
        assert_eq!(primary, r#"<button type="submit">Go</button>"#);
        let danger = Button::danger("Remove")
            .submits("id", "3")
            .render()
            .into_string();
        assert_eq!(
            danger,
            r#"<button class="danger" type="submit" name="id" value="3">Remove</button>"#
        );
        let script = Button::secondary("Key")
            .scripted()
            .id("k")
            .render()
            .into_string();
        assert_eq!(
            script,
            r#"<button class="secondary" id="k" type="button">Key</button>"#
        );
    }
}
