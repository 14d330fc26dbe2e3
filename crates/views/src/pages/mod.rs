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
