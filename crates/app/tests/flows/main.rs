//! The application layer's flows, driven as an adapter drives them but with
//! no HTTP: a fresh SQLite file, the memory state store and a clock the test
//! moves. What a relying party would observe is what each step returns.
//! A new flow (a pushed request, a device's user code) is tested here first,
//! then over HTTP in `tests/e2e`.

mod authorize;
mod support;
