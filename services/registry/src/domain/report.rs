//! Monthly progress reports: what a report must satisfy to be accepted and
//! how a resubmission becomes the next revision.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::period::Period;
use super::project::{Project, Status};
use super::violations::{FieldViolation, Violations};

/// The reported measures of one month, integers in base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measures {
    pub investment_completed_yuan: i64,
    pub output_value_yuan: i64,
    pub value_added_yuan: i64,
    pub energy_kgce: i64,
    pub employment: i64,
    pub rd_spend_yuan: i64,
    pub export_value_yuan: i64,
}

impl Measures {
    /// Field names (as in the contract) with their values.
    pub fn named(&self) -> [(&'static str, i64); 7] {
        [
            ("investment_completed_yuan", self.investment_completed_yuan),
            ("output_value_yuan", self.output_value_yuan),
            ("value_added_yuan", self.value_added_yuan),
            ("energy_kgce", self.energy_kgce),
            ("employment", self.employment),
            ("rd_spend_yuan", self.rd_spend_yuan),
            ("export_value_yuan", self.export_value_yuan),
        ]
    }
}

/// A report as a request carries it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportDraft {
    pub period: String,
    pub measures: Measures,
    pub physical_progress_percent: i32,
}

/// An accepted report as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressReport {
    pub project_id: String,
    pub period: Period,
    pub measures: Measures,
    pub physical_progress_percent: i32,
    pub revision: i64,
    #[serde(with = "jilin_domain::timestamp")]
    pub submit_time: OffsetDateTime,
}

impl ProgressReport {
    pub fn name(&self) -> String {
        report_name(&self.project_id, self.period)
    }
}

pub fn report_name(project_id: &str, period: Period) -> String {
    format!("projects/{project_id}/reports/{period}")
}

/// Statuses in which a project reports progress.
pub const REPORTING_STATUSES: [Status; 4] = [
    Status::Approved,
    Status::UnderConstruction,
    Status::Suspended,
    Status::Operating,
];

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportRejection {
    /// Bad values; every bad field is named.
    Invalid(Vec<FieldViolation>),
    /// The project is not in a status that reports progress.
    NotReporting(Status),
}

/// Checks the fields of a draft that do not depend on the project.
pub fn validate_draft(
    draft: &ReportDraft,
    now: OffsetDateTime,
) -> Result<Period, Vec<FieldViolation>> {
    let mut violations = Violations::new();
    let period = Period::parse(&draft.period);
    match period {
        None if draft.period.is_empty() => {
            violations.add("report.period", "required: a month YYYY-MM")
        }
        None => violations.add(
            "report.period",
            format!("`{}` is not a month YYYY-MM", draft.period),
        ),
        // Each message is formatted only for a violation: every report of
        // a batch passes through here.
        Some(period) if period > Period::of_date(now.date()) => {
            violations.add("report.period", format!("{period} is in the future"))
        }
        Some(_) => {}
    }
    for (field, value) in draft.measures.named() {
        if value < 0 {
            violations.add(format!("report.{field}"), "must not be negative");
        }
    }
    let measures = &draft.measures;
    if measures.value_added_yuan > measures.output_value_yuan {
        violations.add(
            "report.value_added_yuan",
            format!(
                "value added {} exceeds output value {}",
                measures.value_added_yuan, measures.output_value_yuan
            ),
        );
    }
    violations.check(
        (0..=100).contains(&draft.physical_progress_percent),
        "report.physical_progress_percent",
        "must be between 0 and 100",
    );
    let period = period.unwrap_or(Period::of_date(now.date()));
    violations.into_result(period)
}

/// Accepts `draft` for `project`: the first report of a month is revision 1,
/// a resubmission replaces `previous` as revision n+1.
pub fn accept(
    project: &Project,
    draft: &ReportDraft,
    previous: Option<&ProgressReport>,
    now: OffsetDateTime,
) -> Result<ProgressReport, ReportRejection> {
    let period = validate_draft(draft, now).map_err(ReportRejection::Invalid)?;
    let start_year = project.planned_start_date.year();
    if period.year() < start_year {
        return Err(ReportRejection::Invalid(vec![FieldViolation {
            field: "report.period".into(),
            description: format!(
                "{period} is before the project's planned start year {start_year}"
            ),
        }]));
    }
    if !REPORTING_STATUSES.contains(&project.status) {
        return Err(ReportRejection::NotReporting(project.status));
    }
    Ok(ProgressReport {
        project_id: project.id.clone(),
        period,
        measures: draft.measures,
        physical_progress_percent: draft.physical_progress_percent,
        revision: previous.map_or(1, |previous| previous.revision + 1),
        submit_time: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle;
    use crate::domain::project::{self, ProjectDraft};
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);

    fn project_in(status: Status) -> Project {
        let draft = ProjectDraft {
            display_name: "Yanbian tourism resort".into(),
            sector: "tourism".into(),
            region_code: "222400".into(),
            agency: "yanbian-tourism".into(),
            planned_investment_yuan: 800_000_000,
            planned_start_date: "2025-04-01".into(),
            planned_end_date: "2027-10-01".into(),
            ..Default::default()
        };
        let mut project = project::create("resort".into(), &draft, NOW).unwrap();
        let path: &[Status] = match status {
            Status::Proposed => &[],
            Status::Approved => &[Status::Approved],
            Status::UnderConstruction => &[Status::Approved, Status::UnderConstruction],
            Status::Operating => &[
                Status::Approved,
                Status::UnderConstruction,
                Status::Operating,
            ],
            Status::Suspended => &[Status::Approved, Status::Suspended],
            Status::Cancelled => &[Status::Cancelled],
        };
        for step in path {
            project = lifecycle::transition(&project, *step, date!(2025 - 05 - 01), NOW).unwrap();
        }
        project
    }

    fn good() -> ReportDraft {
        ReportDraft {
            period: "2026-10".into(),
            measures: Measures {
                investment_completed_yuan: 20_000_000,
                output_value_yuan: 5_000_000,
                value_added_yuan: 1_500_000,
                energy_kgce: 12_000,
                employment: 340,
                rd_spend_yuan: 0,
                export_value_yuan: 0,
            },
            physical_progress_percent: 35,
        }
    }

    #[test]
    fn first_report_is_revision_one_and_a_resubmission_is_the_next() {
        let project = project_in(Status::UnderConstruction);
        let first = accept(&project, &good(), None, NOW).unwrap();
        assert_eq!(first.revision, 1);
        assert_eq!(first.name(), "projects/resort/reports/2026-10");
        let second = accept(&project, &good(), Some(&first), NOW).unwrap();
        assert_eq!(second.revision, 2);
    }

    #[test]
    fn every_bad_field_is_named() {
        let draft = ReportDraft {
            period: "2026-12".into(),
            measures: Measures {
                energy_kgce: -1,
                value_added_yuan: 10,
                output_value_yuan: 5,
                ..Default::default()
            },
            physical_progress_percent: 101,
        };
        let Err(ReportRejection::Invalid(violations)) =
            accept(&project_in(Status::Approved), &draft, None, NOW)
        else {
            panic!("expected field violations")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "report.period",
                "report.energy_kgce",
                "report.value_added_yuan",
                "report.physical_progress_percent"
            ]
        );
    }

    #[test]
    fn reports_before_the_planned_start_year_are_refused() {
        let draft = ReportDraft {
            period: "2024-12".into(),
            ..good()
        };
        let rejection = accept(&project_in(Status::Approved), &draft, None, NOW).unwrap_err();
        assert!(
            matches!(rejection, ReportRejection::Invalid(v) if v[0].description.contains("2025"))
        );
    }

    #[test]
    fn only_active_projects_report() {
        for status in Status::ALL {
            let outcome = accept(&project_in(status), &good(), None, NOW);
            if REPORTING_STATUSES.contains(&status) {
                assert!(outcome.is_ok(), "{status:?}");
            } else {
                assert_eq!(outcome.unwrap_err(), ReportRejection::NotReporting(status));
            }
        }
    }

    proptest! {
        /// A report is accepted exactly when every rule holds, and then it
        /// carries the submitted values unchanged.
        #[test]
        fn report_validation_matches_the_rules(
            year in 2020i32..2030,
            month in 0u8..14,
            values in proptest::array::uniform7(-5i64..1_000_000_000),
            progress in -5i32..110,
        ) {
            let draft = ReportDraft {
                period: format!("{year:04}-{month:02}"),
                measures: Measures {
                    investment_completed_yuan: values[0],
                    output_value_yuan: values[1],
                    value_added_yuan: values[2],
                    energy_kgce: values[3],
                    employment: values[4],
                    rd_spend_yuan: values[5],
                    export_value_yuan: values[6],
                },
                physical_progress_percent: progress,
            };
            let valid = (1..=12).contains(&month)
                && (year, month) <= (2026, 11)
                && year >= 2025
                && values.iter().all(|v| *v >= 0)
                && values[2] <= values[1]
                && (0..=100).contains(&progress);
            let outcome = accept(&project_in(Status::UnderConstruction), &draft, None, NOW);
            prop_assert_eq!(outcome.is_ok(), valid, "{:?}", outcome);
            if let Ok(report) = outcome {
                prop_assert_eq!(report.measures, draft.measures);
                prop_assert_eq!(report.period.to_string(), draft.period);
            }
        }
    }
}
