//! The indicator service's domain, as plain values and pure functions (no
//! I/O, no tonic, no store): the cube of exact sums and how events change it
//! ([`cube`], [`ledger`], [`entry`]), the expression language ([`expr`], [`parser`],
//! [`eval`]), definitions and the built-in catalog ([`definition`],
//! [`builtins`]) and queries ([`query`]).

pub mod builtins;
pub mod cube;
pub mod definition;
pub mod entry;
pub mod eval;
pub mod expr;
pub mod labels;
pub mod ledger;
pub mod parser;
pub mod query;
pub mod replay;
