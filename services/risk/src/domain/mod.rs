//! The risk domain, as plain values and pure functions: [`rules`] (kinds,
//! severity bands, the built-in pack, validation of edits), [`measure`]
//! (what a project rule measures, as of a given day), [`alert`] (pending →
//! firing → resolved, escalation, acknowledgement, notification subjects)
//! [`silence`] (label matchers over a time window), [`project`] (what is
//! kept of each project from registry events), [`evaluate`] (rules ×
//! subject → readings to observe), [`filter`] (ListAlerts filters),
//! [`routing`] (receivers, routes and their matchers), [`grouping`] (alert
//! groups and when they notify), [`inhibition`] (what a firing alert
//! mutes), [`delivery`] (attempts, backoff,
//! deadline), [`tally`] (alerts by state and severity, kept by moves) and
//! [`template`] (a summary filled in).

pub mod alert;
pub mod delivery;
pub mod evaluate;
pub mod filter;
pub mod grouping;
pub mod inhibition;
pub mod measure;
pub mod project;
pub mod receiver;
pub mod routing;
pub mod rules;
pub mod silence;
pub mod tally;
pub mod template;
