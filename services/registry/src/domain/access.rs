//! Who may change a project: a reporter of the project's agency, or an
//! admin; only an admin moves a project to another agency. Every
//! authenticated principal reads.

use jilin_auth::{Denied, Principal};

use super::project::Project;

/// Whether `principal` may create `project` (for its own agency).
pub fn may_create(principal: &Principal, project: &Project) -> Result<(), Denied> {
    principal.require_agency(&project.agency)
}

/// Whether `principal` may change `current` (transition it, report on it,
/// update it) without moving it.
pub fn may_change(principal: &Principal, current: &Project) -> Result<(), Denied> {
    principal.require_agency(&current.agency)
}

/// Whether `principal` may turn `current` into `next`.
pub fn may_update(principal: &Principal, current: &Project, next: &Project) -> Result<(), Denied> {
    may_change(principal, current)?;
    if next.agency != current.agency && !principal.is_admin() {
        return Err(Denied::MoveAgency {
            subject: principal.subject.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jilin_auth::Role;
    use time::macros::datetime;

    use super::*;
    use crate::domain::project::{self, ProjectDraft};

    /// A project created at a fixed instant; its planned dates are only
    /// checked against each other, never against the wall clock.
    fn project(agency: &str) -> Project {
        let draft = ProjectDraft {
            display_name: "Plant".into(),
            sector: "automobile".into(),
            region_code: "220100".into(),
            agency: agency.into(),
            planned_investment_yuan: 1,
            planned_start_date: "2026-01-01".into(),
            planned_end_date: "2027-01-01".into(),
            ..Default::default()
        };
        project::create("p".into(), &draft, datetime!(2026-01-01 0:00 UTC)).unwrap()
    }

    fn principal(roles: &[Role], agency: Option<&str>) -> Principal {
        Principal {
            subject: "users/x".into(),
            agency: agency.map(str::to_owned),
            roles: roles.iter().copied().collect(),
        }
    }

    #[test]
    fn reporters_change_their_own_agencys_projects_only() {
        let reporter = principal(&[Role::Reporter], Some("agencies/changchun-drc"));
        let own = project("changchun-drc");
        assert!(may_create(&reporter, &own).is_ok());
        assert!(may_change(&reporter, &own).is_ok());
        let other = project("jilin-drc");
        assert_eq!(
            may_change(&reporter, &other),
            Err(Denied::Agency {
                subject: "users/x".into(),
                agency: "jilin-drc".into()
            })
        );
        let supervisor = principal(&[Role::Supervisor], None);
        assert!(may_change(&supervisor, &own).is_err());
    }

    #[test]
    fn only_an_admin_moves_a_project_to_another_agency() {
        let reporter = principal(&[Role::Reporter], Some("agencies/changchun-drc"));
        let (current, moved) = (project("changchun-drc"), project("jilin-drc"));
        assert!(matches!(
            may_update(&reporter, &current, &moved),
            Err(Denied::MoveAgency { .. })
        ));
        assert!(may_update(&reporter, &current, &current).is_ok());
        let admin = principal(&[Role::Admin], None);
        assert!(may_update(&admin, &current, &moved).is_ok());
    }
}
