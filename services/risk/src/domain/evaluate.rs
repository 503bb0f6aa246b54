//! From what is known to readings: every project rule applied to one
//! project, or every indicator rule to one indicator value, each with the
//! alert's subject. Its labels and filled-in summary are made only for an
//! alert that is written: most readings of most rules change nothing.

use std::collections::BTreeMap;

use jilin_domain::{Period, prefecture_of};
use time::OffsetDateTime;

use super::alert::Reading;
use super::measure::measure;
use super::project::{Benchmarks, ProjectRecord};
use super::rules::{IndicatorMeasure, Rule, RuleKind};

/// One rule's reading of one subject, ready for [`super::alert::observe`].
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation<'a> {
    pub rule: &'a Rule,
    /// `projects/{id}` or `indicators/{id}`.
    pub subject: String,
    pub reading: Reading,
    /// What was read: where the labels and the summary come from.
    pub of: Subject<'a>,
}

/// What a rule read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Subject<'a> {
    Project(&'a ProjectRecord),
    Indicator(&'a IndicatorValue),
}

impl Evaluation<'_> {
    /// The rule's labels, overridden by the subject's.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.rule.labels.clone();
        labels.extend(match self.of {
            Subject::Project(project) => project.labels(),
            Subject::Indicator(value) => indicator_labels(value),
        });
        labels
    }

    /// The rule's summary filled in with this reading.
    pub fn summary(&self) -> String {
        let name = match self.of {
            Subject::Project(project) => &project.snapshot.display_name,
            Subject::Indicator(value) => &value.indicator,
        };
        self.rule
            .render_summary(&self.subject, name, self.reading.value)
    }
}

/// One published indicator value (from `IndicatorValueChanged`).
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorValue {
    pub indicator: String,
    /// Empty for the province, a region code or a sector group.
    pub group: String,
    pub period: Period,
    pub value: Option<f64>,
    pub target: Option<f64>,
}

/// Every project rule's reading of `project` at `now`.
pub fn project_evaluations<'a>(
    rules: &'a [Rule],
    project: &'a ProjectRecord,
    now: OffsetDateTime,
    benchmarks: &Benchmarks,
) -> Vec<Evaluation<'a>> {
    let view = project.view();
    let sector_energy = project
        .benchmark_year()
        .and_then(|year| benchmarks.get(year, &project.snapshot.sector));
    let subject = format!("projects/{}", project.snapshot.id);
    let today = now.date();
    rules
        .iter()
        .filter(|rule| rule.is_project_rule())
        .map(|rule| Evaluation {
            rule,
            subject: subject.clone(),
            reading: Reading {
                value: measure(&rule.kind, &view, today, sector_energy),
                period: Period::of_date(today),
                at: now,
            },
            of: Subject::Project(project),
        })
        .collect()
}

/// What an indicator rule measures of a value.
pub fn indicator_measure(measure: IndicatorMeasure, value: &IndicatorValue) -> Option<f64> {
    match measure {
        IndicatorMeasure::Value => value.value,
        IndicatorMeasure::AboveTarget => Some(value.value? - value.target?),
        IndicatorMeasure::BelowTarget => Some(value.target? - value.value?),
    }
}

/// Every indicator rule watching this indicator and group, read at `now`.
pub fn indicator_evaluations<'a>(
    rules: &'a [Rule],
    value: &'a IndicatorValue,
    now: OffsetDateTime,
) -> Vec<Evaluation<'a>> {
    let subject = format!("indicators/{}", value.indicator);
    rules
        .iter()
        .filter_map(|rule| match &rule.kind {
            RuleKind::Indicator {
                indicator,
                group,
                measure,
            } if *indicator == value.indicator && *group == value.group => Some(Evaluation {
                rule,
                subject: subject.clone(),
                reading: Reading {
                    value: indicator_measure(*measure, value),
                    period: value.period,
                    at: now,
                },
                of: Subject::Indicator(value),
            }),
            _ => None,
        })
        .collect()
}

/// `indicator`, and `region` or `group` for a group's value.
fn indicator_labels(value: &IndicatorValue) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([("indicator".to_owned(), value.indicator.clone())]);
    if !value.group.is_empty() {
        let key = if prefecture_of(&value.group).is_some() {
            "region"
        } else {
            "group"
        };
        labels.insert(key.to_owned(), value.group.clone());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::measure::ProjectStatus;
    use crate::domain::project::{ProjectSnapshot, ReportRecord};
    use crate::domain::rules::{Severity, builtin_rules};
    use std::collections::HashMap;
    use time::macros::{date, datetime};

    fn project() -> ProjectRecord {
        let snapshot = ProjectSnapshot {
            id: "p1".into(),
            revision: 1,
            display_name: "Plant".into(),
            status: ProjectStatus::UnderConstruction,
            sector: "chemicals".into(),
            group: "pillar".into(),
            region: "220200".into(),
            agency: "jilin-drc".into(),
            planned_investment: 1_000,
            planned_start: date!(2026 - 01 - 01),
            planned_end: date!(2026 - 12 - 31),
            milestones: Vec::new(),
        };
        let mut record = ProjectRecord::with_snapshot(None, &snapshot).unwrap();
        record.apply_report(
            Period::parse("2026-05").unwrap(),
            None,
            &ReportRecord {
                revision: 1,
                investment: 400,
                value_added: 100,
                energy_kgce: 15,
                physical_progress: 40,
            },
        );
        record
    }

    #[test]
    fn every_project_rule_reads_the_project() {
        let rules = builtin_rules();
        let mut benchmarks = Benchmarks::default();
        benchmarks.set_year(2026, HashMap::from([("chemicals".to_owned(), 1_000.0)]));
        let now = datetime!(2026-07-02 0:00 UTC);
        let project = project();
        let evaluations = project_evaluations(&rules, &project, now, &benchmarks);
        assert_eq!(evaluations.len(), 8, "the eight project rules");
        let by_rule: HashMap<_, _> = evaluations
            .iter()
            .map(|e| (e.rule.id.as_str(), e))
            .collect();
        let lag = by_rule["schedule_lag"];
        assert_eq!(lag.subject, "projects/p1");
        assert_eq!(lag.reading.period, Period::parse("2026-07").unwrap());
        let lag_value = lag.reading.value.unwrap();
        assert!(
            (lag_value - 10.0).abs() < 1e-9,
            "half elapsed, 40 % done: {lag_value}"
        );
        assert_eq!(lag.labels()["region"], "220200");
        let energy = by_rule["energy_above_benchmark"];
        assert_eq!(energy.reading.value, Some(50.0), "1500 against 1000");
        assert_eq!(
            energy.rule.classify(energy.reading.value.unwrap()),
            Some(Severity::Critical)
        );
        assert_eq!(by_rule["suspended"].reading.value, None);
        assert!(energy.summary().contains("50.0% more energy"));
    }

    #[test]
    fn indicator_rules_match_their_indicator_and_group() {
        let rules = builtin_rules();
        let value = IndicatorValue {
            indicator: "energy_intensity".into(),
            group: String::new(),
            period: Period::parse("2026-03").unwrap(),
            value: Some(1_250.0),
            target: Some(1_200.0),
        };
        let evaluations = indicator_evaluations(&rules, &value, datetime!(2026-04-01 0:00 UTC));
        assert_eq!(evaluations.len(), 1);
        assert_eq!(evaluations[0].rule.id, "energy_intensity_over_target");
        assert_eq!(evaluations[0].reading.value, Some(50.0));
        assert_eq!(evaluations[0].labels()["indicator"], "energy_intensity");
        let regional = IndicatorValue {
            group: "220100".into(),
            ..value.clone()
        };
        assert!(
            indicator_evaluations(&rules, &regional, datetime!(2026-04-01 0:00 UTC)).is_empty()
        );
        let no_target = IndicatorValue {
            target: None,
            ..value
        };
        assert_eq!(
            indicator_measure(IndicatorMeasure::AboveTarget, &no_target),
            None
        );
        let completion = IndicatorValue {
            indicator: "investment_completion_rate".into(),
            group: String::new(),
            period: Period::parse("2026-03").unwrap(),
            value: Some(79.0),
            target: Some(100.0),
        };
        assert_eq!(
            indicator_measure(IndicatorMeasure::BelowTarget, &completion),
            Some(21.0)
        );
    }
}
