//! The risk domain, as plain values and pure functions: [`rules`] (kinds,
//! severity bands, the built-in pack, validation of edits), [`measure`]
//! (what a project rule measures, as of a given day), [`alert`] (pending →
//! firing → resolved, escalation, acknowledgement, notification subjects)
//! [`silence`] (label matchers over a time window), [`project`] (what is
//! kept of each project from registry events), [`evaluate`] (rules ×
//! subject → readings to observe) and [`filter`] (ListAlerts filters).

pub mod alert;
pub mod evaluate;
pub mod filter;
pub mod measure;
pub mod project;
pub mod rules;
pub mod silence;
