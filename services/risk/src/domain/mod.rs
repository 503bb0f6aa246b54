//! The risk domain, as plain values and pure functions: [`rules`] (kinds,
//! severity bands, the built-in pack, validation of edits), [`measure`]
//! (what a project rule measures, as of a given day), [`alert`] (pending →
//! firing → resolved, escalation, acknowledgement, notification subjects)
//! and [`silence`] (label matchers over a time window).

pub mod alert;
pub mod measure;
pub mod rules;
pub mod silence;
