//! Projects: the stored value, the unvalidated draft a request carries, and
//! the rules that turn one into the other (creation and masked updates).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::catalog;
use super::fields::apply_fields;
use super::violations::{FieldViolation, Violations};

pub use super::fields::parse_date;

/// Project status; see [`super::lifecycle`] for the allowed moves.
pub use jilin_domain::ProjectStatus as Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MilestoneStatus {
    Scheduled,
    Met,
    NotMet,
    PartiallyMet,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub title: String,
    pub due_date: Date,
    pub status: MilestoneStatus,
    pub met_date: Option<Date>,
}

/// A registered project as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub sector: String,
    pub region_code: String,
    pub agency: String,
    pub tags: Vec<String>,
    pub planned_investment_yuan: i64,
    pub planned_start_date: Date,
    pub planned_end_date: Date,
    pub actual_start_date: Option<Date>,
    pub actual_end_date: Option<Date>,
    pub milestones: Vec<Milestone>,
    pub status: Status,
    pub suspended_from: Option<Status>,
    pub revision: i64,
    #[serde(with = "jilin_domain::timestamp")]
    pub create_time: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp")]
    pub update_time: OffsetDateTime,
}

impl Project {
    pub fn name(&self) -> String {
        format!("projects/{}", self.id)
    }

    /// Opaque version tag derived from the revision.
    pub fn etag(&self) -> String {
        format!("\"r{}\"", self.revision)
    }

    pub fn group(&self) -> &'static str {
        catalog::sector_by_code(&self.sector).map_or("", |sector| sector.group)
    }

    pub fn prefecture(&self) -> &'static str {
        catalog::prefecture_of(&self.region_code).map_or("", |region| region.code)
    }
}

/// A milestone as a request carries it: unparsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MilestoneDraft {
    pub title: String,
    pub due_date: String,
    /// None when the request left it unspecified (means SCHEDULED).
    pub status: Option<MilestoneStatus>,
    pub met_date: String,
}

/// The client-writable fields of a project as a request carries them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectDraft {
    pub display_name: String,
    pub description: String,
    pub sector: String,
    pub region_code: String,
    pub agency: String,
    pub tags: Vec<String>,
    pub planned_investment_yuan: i64,
    pub planned_start_date: String,
    pub planned_end_date: String,
    pub milestones: Vec<MilestoneDraft>,
}

/// A field a client may change with UpdateProject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectField {
    DisplayName,
    Description,
    Sector,
    RegionCode,
    Agency,
    Tags,
    PlannedInvestment,
    PlannedStartDate,
    PlannedEndDate,
    Milestones,
}

impl ProjectField {
    /// Every field a client may change, in the order of the message.
    pub const ALL: [ProjectField; 10] = [
        ProjectField::DisplayName,
        ProjectField::Description,
        ProjectField::Sector,
        ProjectField::RegionCode,
        ProjectField::Agency,
        ProjectField::Tags,
        ProjectField::PlannedInvestment,
        ProjectField::PlannedStartDate,
        ProjectField::PlannedEndDate,
        ProjectField::Milestones,
    ];

    /// Its name in the API (and in update masks).
    pub fn name(self) -> &'static str {
        match self {
            ProjectField::DisplayName => "display_name",
            ProjectField::Description => "description",
            ProjectField::Sector => "sector",
            ProjectField::RegionCode => "region_code",
            ProjectField::Agency => "agency",
            ProjectField::Tags => "tags",
            ProjectField::PlannedInvestment => "planned_investment_yuan",
            ProjectField::PlannedStartDate => "planned_start_date",
            ProjectField::PlannedEndDate => "planned_end_date",
            ProjectField::Milestones => "milestones",
        }
    }
}

/// Fields the server sets; naming them in a mask is an error.
pub const OUTPUT_ONLY_FIELDS: [&str; 10] = [
    "name",
    "group",
    "actual_start_date",
    "actual_end_date",
    "status",
    "suspended_from",
    "etag",
    "revision",
    "create_time",
    "update_time",
];

/// Is `id` a valid client-chosen project id: `[a-z]([a-z0-9-]{0,61}[a-z0-9])?`.
pub fn is_valid_project_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    match bytes {
        [] => false,
        [first] => first.is_ascii_lowercase(),
        [first, middle @ .., last] => {
            bytes.len() <= 63
                && first.is_ascii_lowercase()
                && middle.iter().all(inner_ok)
                && (last.is_ascii_lowercase() || last.is_ascii_digit())
        }
    }
}

/// Validates a draft for CreateProject and builds the stored project.
pub fn create(
    id: String,
    draft: &ProjectDraft,
    now: OffsetDateTime,
) -> Result<Project, Vec<FieldViolation>> {
    let mut project = Project {
        id,
        display_name: String::new(),
        description: String::new(),
        sector: String::new(),
        region_code: String::new(),
        agency: String::new(),
        tags: Vec::new(),
        planned_investment_yuan: 0,
        planned_start_date: Date::MIN,
        planned_end_date: Date::MIN,
        actual_start_date: None,
        actual_end_date: None,
        milestones: Vec::new(),
        status: Status::Proposed,
        suspended_from: None,
        revision: 1,
        create_time: now,
        update_time: now,
    };
    let mut violations = Violations::new();
    apply_fields(
        draft,
        &ProjectField::ALL,
        "project",
        &mut project,
        &mut violations,
    );
    violations.into_result(project)
}

/// Applies the masked fields of `draft` to `current`: returns the updated
/// project (revision + 1) and the names of the fields that really changed.
/// Only the fields in `mask` are read from `draft`.
pub fn update(
    current: &Project,
    draft: &ProjectDraft,
    mask: &[ProjectField],
    now: OffsetDateTime,
) -> Result<(Project, Vec<String>), Vec<FieldViolation>> {
    let mut next = current.clone();
    let mut violations = Violations::new();
    apply_fields(draft, mask, "project", &mut next, &mut violations);
    violations.into_result(())?;
    let changed = changed_fields(current, &next);
    if !changed.is_empty() {
        next.revision += 1;
        next.update_time = now;
    }
    Ok((next, changed))
}

fn changed_fields(before: &Project, after: &Project) -> Vec<String> {
    let mut changed = Vec::new();
    let mut note = |name: &str, differs: bool| {
        if differs {
            changed.push(name.to_owned());
        }
    };
    note("display_name", before.display_name != after.display_name);
    note("description", before.description != after.description);
    note("sector", before.sector != after.sector);
    note("region_code", before.region_code != after.region_code);
    note("agency", before.agency != after.agency);
    note("tags", before.tags != after.tags);
    note(
        "planned_investment_yuan",
        before.planned_investment_yuan != after.planned_investment_yuan,
    );
    note(
        "planned_start_date",
        before.planned_start_date != after.planned_start_date,
    );
    note(
        "planned_end_date",
        before.planned_end_date != after.planned_end_date,
    );
    note("milestones", before.milestones != after.milestones);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn draft() -> ProjectDraft {
        ProjectDraft {
            display_name: "FAW Hongqi new energy plant".into(),
            description: "Phase II".into(),
            sector: "new-energy-vehicles".into(),
            region_code: "220100".into(),
            agency: "changchun-drc".into(),
            tags: vec!["changjitu".into()],
            planned_investment_yuan: 12_000_000_000,
            planned_start_date: "2025-03-01".into(),
            planned_end_date: "2027-12-31".into(),
            milestones: vec![MilestoneDraft {
                title: "Body shop".into(),
                due_date: "2026-06-30".into(),
                status: None,
                met_date: String::new(),
            }],
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

    #[test]
    fn project_ids_follow_the_contract_pattern() {
        for good in [
            "a",
            "p1",
            "faw-hongqi-2026",
            &format!("a{}", "b".repeat(62)),
        ] {
            assert!(is_valid_project_id(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "abc-",
            "Abc",
            "a_b",
            "a b",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(!is_valid_project_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_valid_draft_becomes_a_proposed_project_at_revision_one() {
        let project = create("p1".into(), &draft(), NOW).unwrap();
        assert_eq!(project.status, Status::Proposed);
        assert_eq!(project.revision, 1);
        assert_eq!(project.group(), "emerging");
        assert_eq!(project.milestones[0].status, MilestoneStatus::Scheduled);
        assert_eq!(project.etag(), "\"r1\"");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = ProjectDraft {
            display_name: " ".into(),
            sector: "steel-ish".into(),
            region_code: "110100".into(),
            agency: String::new(),
            tags: vec!["OK".into()],
            planned_investment_yuan: 0,
            planned_start_date: "2026-02-30".into(),
            planned_end_date: String::new(),
            milestones: vec![MilestoneDraft {
                title: "x".into(),
                due_date: "2026-01-01".into(),
                status: Some(MilestoneStatus::Met),
                met_date: String::new(),
            }],
            ..draft()
        };
        let violations = create("p1".into(), &bad, NOW).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "project.display_name",
                "project.sector",
                "project.region_code",
                "project.agency",
                "project.tags[0]",
                "project.planned_investment_yuan",
                "project.planned_start_date",
                "project.planned_end_date",
                "project.milestones[0].met_date",
            ]
        );
    }

    #[test]
    fn end_must_follow_start() {
        let bad = ProjectDraft {
            planned_end_date: "2025-03-01".into(),
            ..draft()
        };
        let violations = create("p1".into(), &bad, NOW).unwrap_err();
        assert_eq!(violations[0].field, "project.planned_end_date");
    }

    #[test]
    fn update_changes_only_masked_fields_and_bumps_the_revision() {
        let project = create("p1".into(), &draft(), NOW).unwrap();
        let change = ProjectDraft {
            display_name: "Renamed".into(),
            agency: "ignored-because-not-in-mask".into(),
            ..Default::default()
        };
        let later = datetime!(2026-11-29 10:00 UTC);
        let (next, changed) =
            update(&project, &change, &[ProjectField::DisplayName], later).unwrap();
        assert_eq!(next.display_name, "Renamed");
        assert_eq!(next.agency, project.agency);
        assert_eq!(next.revision, 2);
        assert_eq!(next.update_time, later);
        assert_eq!(changed, ["display_name"]);
    }

    #[test]
    fn update_of_one_date_is_checked_against_the_other() {
        let project = create("p1".into(), &draft(), NOW).unwrap();
        let change = ProjectDraft {
            planned_start_date: "2028-01-01".into(),
            ..Default::default()
        };
        let violations =
            update(&project, &change, &[ProjectField::PlannedStartDate], NOW).unwrap_err();
        assert_eq!(violations[0].field, "project.planned_start_date");
    }

    #[test]
    fn an_update_that_changes_nothing_keeps_the_revision() {
        let project = create("p1".into(), &draft(), NOW).unwrap();
        let (next, changed) = update(&project, &draft(), &ProjectField::ALL, NOW).unwrap();
        assert!(changed.is_empty());
        assert_eq!(next, project);
    }
}
