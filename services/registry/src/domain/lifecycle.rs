//! The project status machine.
//!
//! PROPOSED -> APPROVED -> UNDER_CONSTRUCTION -> OPERATING; APPROVED and
//! UNDER_CONSTRUCTION may be SUSPENDED, and a resume returns to where the
//! project was; every non-final status may be CANCELLED; OPERATING and
//! CANCELLED are final.

use time::{Date, OffsetDateTime};

use super::project::{Project, Status};

/// The statuses `project` may move to next.
pub fn allowed_targets(project: &Project) -> Vec<Status> {
    use Status::*;
    match project.status {
        Proposed => vec![Approved, Cancelled],
        Approved => vec![UnderConstruction, Suspended, Cancelled],
        UnderConstruction => vec![Operating, Suspended, Cancelled],
        Suspended => {
            let resume = project.suspended_from.unwrap_or(Approved);
            vec![resume, Cancelled]
        }
        Operating | Cancelled => vec![],
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: Status,
    pub to: Status,
    pub allowed: Vec<Status>,
}

impl std::fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let allowed: Vec<_> = self.allowed.iter().map(|status| status.as_str()).collect();
        write!(
            f,
            "cannot move a {} project to {}; allowed: {}",
            self.from.as_str(),
            self.to.as_str(),
            if allowed.is_empty() {
                format!("none ({} is final)", self.from.as_str())
            } else {
                allowed.join(", ")
            }
        )
    }
}

/// Moves `project` to `target`, effective on `effective_date`: returns the
/// project after the transition (revision + 1).
pub fn transition(
    project: &Project,
    target: Status,
    effective_date: Date,
    now: OffsetDateTime,
) -> Result<Project, IllegalTransition> {
    let allowed = allowed_targets(project);
    if !allowed.contains(&target) {
        return Err(IllegalTransition {
            from: project.status,
            to: target,
            allowed,
        });
    }
    let mut next = project.clone();
    next.suspended_from = (target == Status::Suspended).then_some(project.status);
    next.status = target;
    if target == Status::UnderConstruction && next.actual_start_date.is_none() {
        next.actual_start_date = Some(effective_date);
    }
    if target == Status::Operating {
        next.actual_end_date = Some(effective_date);
    }
    next.revision += 1;
    next.update_time = now;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project::{self, ProjectDraft};
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

    fn proposed() -> Project {
        let draft = ProjectDraft {
            display_name: "Jilin petrochemical upgrade".into(),
            sector: "petrochemical".into(),
            region_code: "220200".into(),
            agency: "jilin-drc".into(),
            planned_investment_yuan: 5_000_000_000,
            planned_start_date: "2025-01-01".into(),
            planned_end_date: "2028-01-01".into(),
            ..Default::default()
        };
        project::create("p".into(), &draft, NOW).unwrap()
    }

    fn walk(statuses: &[Status]) -> Project {
        let mut project = proposed();
        for status in statuses {
            project = transition(&project, *status, date!(2026 - 01 - 15), NOW).unwrap();
        }
        project
    }

    #[test]
    fn the_main_path_sets_actual_dates() {
        let project = walk(&[Status::Approved, Status::UnderConstruction]);
        assert_eq!(project.actual_start_date, Some(date!(2026 - 01 - 15)));
        let done = transition(&project, Status::Operating, date!(2027 - 06 - 01), NOW).unwrap();
        assert_eq!(done.actual_end_date, Some(date!(2027 - 06 - 01)));
        assert_eq!(done.revision, 4);
    }

    #[test]
    fn resuming_returns_to_where_the_project_was() {
        let suspended = walk(&[
            Status::Approved,
            Status::UnderConstruction,
            Status::Suspended,
        ]);
        assert_eq!(suspended.suspended_from, Some(Status::UnderConstruction));
        assert_eq!(
            allowed_targets(&suspended),
            [Status::UnderConstruction, Status::Cancelled]
        );
        let err = transition(&suspended, Status::Approved, date!(2026 - 02 - 01), NOW).unwrap_err();
        assert_eq!(err.allowed, [Status::UnderConstruction, Status::Cancelled]);
        let resumed = transition(
            &suspended,
            Status::UnderConstruction,
            date!(2026 - 03 - 01),
            NOW,
        )
        .unwrap();
        assert_eq!(resumed.suspended_from, None);
        assert_eq!(
            resumed.actual_start_date,
            Some(date!(2026 - 01 - 15)),
            "a resume keeps the first start date"
        );
    }

    #[test]
    fn final_statuses_allow_nothing_and_say_so() {
        let cancelled = walk(&[Status::Cancelled]);
        let err = transition(&cancelled, Status::Approved, date!(2026 - 01 - 01), NOW).unwrap_err();
        assert!(err.to_string().contains("CANCELLED is final"), "{err}");
    }

    fn any_status() -> impl Strategy<Value = Status> {
        proptest::sample::select(Status::ALL.to_vec())
    }

    proptest! {
        /// Any sequence of requested transitions: each is applied exactly when
        /// it is in the allowed set; final states stay final; the revision
        /// counts the applied ones; SUSPENDED always knows where to resume.
        #[test]
        fn status_machine_invariants(targets in proptest::collection::vec(any_status(), 0..20)) {
            let mut project = proposed();
            let mut applied = 0;
            for target in targets {
                let allowed = allowed_targets(&project);
                match transition(&project, target, date!(2026 - 01 - 01), NOW) {
                    Ok(next) => {
                        prop_assert!(allowed.contains(&target));
                        prop_assert_eq!(next.status, target);
                        applied += 1;
                        project = next;
                    }
                    Err(err) => {
                        prop_assert!(!allowed.contains(&target));
                        prop_assert_eq!(err.allowed, allowed);
                    }
                }
                prop_assert_eq!(project.suspended_from.is_some(), project.status == Status::Suspended);
                if matches!(project.status, Status::Operating | Status::Cancelled) {
                    prop_assert!(allowed_targets(&project).is_empty());
                }
                if project.status == Status::Operating {
                    prop_assert!(project.actual_start_date.is_some() && project.actual_end_date.is_some());
                }
            }
            prop_assert_eq!(project.revision, 1 + applied);
        }
    }
}
