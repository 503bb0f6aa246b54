//! The risk domain, as plain values and pure functions: [`rules`] (kinds,
//! severity bands, the built-in pack), [`measure`] (what a project rule
//! measures, as of a given day) and [`alert`] (pending → firing → resolved,
//! escalation, acknowledgement).

pub mod alert;
pub mod measure;
pub mod rules;
