//! The life-cycle status of a project: the registry moves projects through
//! it (its `lifecycle` module says which moves are allowed); the other
//! services read it from the registry's events.

use serde::{Deserialize, Serialize};

/// The status of a project, as the registry keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProjectStatus {
    Proposed,
    Approved,
    UnderConstruction,
    Operating,
    Suspended,
    Cancelled,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 6] = [
        ProjectStatus::Proposed,
        ProjectStatus::Approved,
        ProjectStatus::UnderConstruction,
        ProjectStatus::Operating,
        ProjectStatus::Suspended,
        ProjectStatus::Cancelled,
    ];

    /// The contract's enum value name, e.g. `UNDER_CONSTRUCTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Proposed => "PROPOSED",
            ProjectStatus::Approved => "APPROVED",
            ProjectStatus::UnderConstruction => "UNDER_CONSTRUCTION",
            ProjectStatus::Operating => "OPERATING",
            ProjectStatus::Suspended => "SUSPENDED",
            ProjectStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(name: &str) -> Option<ProjectStatus> {
        ProjectStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}
