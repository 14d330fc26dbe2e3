//! The shape of the code, checked by reading the sources (nothing runs):
//! modules import one way ([`imports`]), and files and handlers stay small
//! enough to read ([`sizes`]).

mod imports;
mod sizes;
