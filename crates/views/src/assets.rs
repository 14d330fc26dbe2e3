//! The static files the pages load, compiled into the binary so that a
//! deployment is one file and every page is served from our own origin.

/// The one stylesheet.
pub const STYLESHEET: &str = include_str!("../assets/guichet.css");

/// The script that runs the WebAuthn ceremonies on the security and
/// second-step pages.
pub const WEBAUTHN_JS: &str = include_str!("../assets/webauthn.js");
