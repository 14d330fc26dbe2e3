//! End-to-end tests: the real application over real HTTP.

mod login;
mod sessions;
mod signup;
mod startup;
