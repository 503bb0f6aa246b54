//! Rules are data: a kind (what is measured), severity bands with
//! thresholds (WARNING = yellow, CRITICAL = red), how many consecutive
//! periods a breach must last before it fires (`for_periods`), how long a
//! firing alert survives a clear reading (`keep_firing_for_periods`),
//! labels and a summary template.

use std::collections::BTreeMap;

use jilin_domain::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A measured value as people read it: three decimals below 1, one above.
pub fn format_value(value: f64) -> String {
    if value.abs() < 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.1}")
    }
}

/// Yellow or red.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Warning,
    Critical,
}

/// How a measured value is compared with a band's threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    AtLeast,
    Above,
    AtMost,
    Below,
}

impl Comparison {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::AtLeast => value >= threshold,
            Comparison::Above => value > threshold,
            Comparison::AtMost => value <= threshold,
            Comparison::Below => value < threshold,
        }
    }
}

/// One severity band: the rule is at `severity` when the value compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub severity: Severity,
    pub comparison: Comparison,
    pub threshold: f64,
}

/// What an indicator rule compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndicatorMeasure {
    /// The value itself.
    Value,
    /// Value minus the target of its year (positive = above target).
    AboveTarget,
    /// Target of its year minus the value (positive = short of target),
    /// for rates that should keep pace with their plan. The investment
    /// completion rate already divides by the plan falling due by its
    /// month, so its time-elapsed share is its target, 100 %.
    BelowTarget,
}

/// What a rule measures. Project rules have subject `projects/{id}`;
/// indicator rules `indicators/{id}` (with a group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RuleKind {
    /// Percentage points of physical progress behind the elapsed share of
    /// the planned start → end span.
    ScheduleLag,
    /// Percent by which cumulative investment trails the elapsed share of
    /// the planned investment.
    InvestmentLag,
    /// Whole months an APPROVED project is past its planned start.
    NotStarted,
    /// Months an UNDER_CONSTRUCTION project has not reported.
    StalledReporting,
    /// Percent by which cumulative investment exceeds the plan.
    CostOverrun,
    /// Days the most overdue unmet milestone is past due.
    OverdueMilestone,
    /// Percent by which the project's energy intensity exceeds its
    /// sector's (from the indicator service).
    EnergyAboveBenchmark,
    /// 1 while the project is SUSPENDED.
    Suspended,
    /// An indicator value for a group (empty = the province).
    Indicator {
        indicator: String,
        group: String,
        measure: IndicatorMeasure,
    },
}

/// A rule as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    /// At most one band per severity.
    pub bands: Vec<Band>,
    /// Consecutive breaching periods before PENDING turns FIRING (≥ 1).
    pub for_periods: u32,
    /// Clear periods a FIRING alert waits before it resolves.
    pub keep_firing_for_periods: u32,
    pub labels: BTreeMap<String, String>,
    /// e.g. `{subject} is {value} points behind schedule`.
    pub summary: String,
    pub revision: i64,
    /// Seeded from the built-in pack (its kind cannot change).
    #[serde(default)]
    pub built_in: bool,
    #[serde(default = "unix_epoch", with = "jilin_domain::timestamp")]
    pub update_time: OffsetDateTime,
    /// Who created or last edited it (empty for a seeded built-in rule).
    #[serde(default)]
    pub updated_by: String,
}

/// What a client sets on a rule: its bands, timing, labels and summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSettings {
    pub bands: Vec<Band>,
    pub for_periods: u32,
    pub keep_firing_for_periods: u32,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
}

/// A field of a rule UpdateRule may change (never its kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleField {
    Bands,
    ForPeriods,
    KeepFiringForPeriods,
    Labels,
    Summary,
}

impl RuleField {
    /// Every field an update may name, in the order of the message.
    pub const ALL: [RuleField; 5] = [
        RuleField::Bands,
        RuleField::ForPeriods,
        RuleField::KeepFiringForPeriods,
        RuleField::Labels,
        RuleField::Summary,
    ];

    /// Its name in the API (and in update masks).
    pub fn name(self) -> &'static str {
        match self {
            RuleField::Bands => "bands",
            RuleField::ForPeriods => "for_periods",
            RuleField::KeepFiringForPeriods => "keep_firing_for_periods",
            RuleField::Labels => "labels",
            RuleField::Summary => "summary",
        }
    }

    /// Copies this field from `settings` into `rule`.
    pub fn copy(self, settings: &RuleSettings, rule: &mut Rule) {
        match self {
            RuleField::Bands => rule.bands = settings.bands.clone(),
            RuleField::ForPeriods => rule.for_periods = settings.for_periods,
            RuleField::KeepFiringForPeriods => {
                rule.keep_firing_for_periods = settings.keep_firing_for_periods
            }
            RuleField::Labels => rule.labels = settings.labels.clone(),
            RuleField::Summary => rule.summary = settings.summary.clone(),
        }
    }
}

impl Rule {
    /// A new user rule: revision 1, created `now` by `actor`.
    pub fn new(
        id: String,
        kind: RuleKind,
        settings: RuleSettings,
        now: OffsetDateTime,
        actor: &str,
    ) -> Self {
        let RuleSettings {
            bands,
            for_periods,
            keep_firing_for_periods,
            labels,
            summary,
        } = settings;
        Rule {
            id,
            kind,
            bands,
            for_periods,
            keep_firing_for_periods,
            labels,
            summary,
            revision: 1,
            built_in: false,
            update_time: now,
            updated_by: actor.to_owned(),
        }
    }
}

fn unix_epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

impl Rule {
    /// The highest severity whose band the value falls in.
    pub fn classify(&self, value: f64) -> Option<Severity> {
        self.bands
            .iter()
            .filter(|band| band.comparison.holds(value, band.threshold))
            .map(|band| band.severity)
            .max()
    }

    /// The opaque version tag clients send back on update.
    pub fn etag(&self) -> String {
        format!("r{}", self.revision)
    }

    /// Whether the rule's subjects are projects (else indicators).
    pub fn is_project_rule(&self) -> bool {
        !matches!(self.kind, RuleKind::Indicator { .. })
    }

    /// The summary with `{subject}`, `{name}` and `{value}` filled in.
    pub fn render_summary(&self, subject: &str, name: &str, value: Option<f64>) -> String {
        let value = value.map(format_value).unwrap_or_else(|| "n/a".into());
        super::template::fill(
            &self.summary,
            &[
                ("{subject}", subject),
                ("{name}", name),
                ("{value}", &value),
            ],
        )
    }

    /// The threshold of a severity's band.
    pub fn threshold(&self, severity: Severity) -> Option<f64> {
        self.bands
            .iter()
            .find(|band| band.severity == severity)
            .map(|band| band.threshold)
    }
}

/// The longest `for_periods` / `keep_firing_for_periods` accepted.
pub const MAX_PERIODS: u32 = 24;

/// Checks a rule as edited (UpdateRule) or created (CreateRule): one or two
/// bands, at most one per severity, finite thresholds, both bands facing
/// the same way with red beyond yellow, periods in range, a summary.
pub fn validate(rule: &Rule) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    violations.check(
        (1..=2).contains(&rule.bands.len()),
        "rule.bands",
        "one band per severity: WARNING, CRITICAL or both",
    );
    for (index, band) in rule.bands.iter().enumerate() {
        violations.check(
            band.threshold.is_finite(),
            format!("rule.bands[{index}].threshold"),
            "must be a finite number",
        );
    }
    if let [first, second] = rule.bands.as_slice() {
        violations.check(
            first.severity != second.severity,
            "rule.bands[1].severity",
            "at most one band per severity",
        );
        let upward = |c: Comparison| matches!(c, Comparison::AtLeast | Comparison::Above);
        let same_way = upward(first.comparison) == upward(second.comparison);
        violations.check(
            same_way,
            "rule.bands[1].comparison",
            "both bands must face the same way",
        );
        if let (true, Some(warning), Some(critical)) = (
            same_way,
            rule.threshold(Severity::Warning).filter(|t| t.is_finite()),
            rule.threshold(Severity::Critical).filter(|t| t.is_finite()),
        ) {
            let beyond = if upward(first.comparison) {
                critical >= warning
            } else {
                critical <= warning
            };
            violations.check(
                beyond,
                "rule.bands",
                "the CRITICAL threshold must lie beyond the WARNING one",
            );
        }
    }
    violations.check(
        (1..=MAX_PERIODS).contains(&rule.for_periods),
        "rule.for_periods",
        format!("1 to {MAX_PERIODS} periods"),
    );
    violations.check(
        rule.keep_firing_for_periods <= MAX_PERIODS,
        "rule.keep_firing_for_periods",
        format!("at most {MAX_PERIODS} periods"),
    );
    let length = rule.summary.chars().count();
    violations.check(
        (1..=500).contains(&length),
        "rule.summary",
        "required, at most 500 characters",
    );
    violations.into_result(())
}

fn band(severity: Severity, comparison: Comparison, threshold: f64) -> Band {
    Band {
        severity,
        comparison,
        threshold,
    }
}

fn rule(id: &str, kind: RuleKind, bands: Vec<Band>, for_periods: u32, summary: &str) -> Rule {
    Rule {
        id: id.into(),
        kind,
        bands,
        for_periods,
        keep_firing_for_periods: 0,
        labels: BTreeMap::new(),
        summary: summary.into(),
        revision: 1,
        built_in: true,
        update_time: OffsetDateTime::UNIX_EPOCH,
        updated_by: String::new(),
    }
}

/// The built-in rule pack, after the provinces' red-yellow-green schemes.
pub fn builtin_rules() -> Vec<Rule> {
    use Comparison::*;
    use Severity::*;
    let indicator = |indicator: &str, measure| RuleKind::Indicator {
        indicator: indicator.into(),
        group: String::new(),
        measure,
    };
    vec![
        rule(
            "schedule_lag",
            RuleKind::ScheduleLag,
            vec![band(Warning, AtLeast, 10.0), band(Critical, Above, 30.0)],
            1,
            "{subject} is {value} points behind its time-elapsed schedule",
        ),
        rule(
            "investment_lag",
            RuleKind::InvestmentLag,
            vec![band(Warning, AtLeast, 20.0), band(Critical, AtLeast, 50.0)],
            1,
            "{subject} has invested {value}% less than its schedule calls for",
        ),
        rule(
            "not_started",
            RuleKind::NotStarted,
            vec![band(Warning, AtLeast, 1.0), band(Critical, AtLeast, 3.0)],
            1,
            "{subject} has not started {value} months after its planned start",
        ),
        rule(
            "stalled_reporting",
            RuleKind::StalledReporting,
            vec![band(Warning, AtLeast, 2.0), band(Critical, AtLeast, 3.0)],
            1,
            "{subject} has not reported for {value} months",
        ),
        rule(
            "cost_overrun",
            RuleKind::CostOverrun,
            vec![band(Warning, AtLeast, 10.0), band(Critical, AtLeast, 30.0)],
            1,
            "{subject} has invested {value}% more than planned",
        ),
        rule(
            "overdue_milestone",
            RuleKind::OverdueMilestone,
            vec![band(Warning, AtLeast, 1.0), band(Critical, AtLeast, 90.0)],
            1,
            "{subject} has a milestone {value} days overdue",
        ),
        rule(
            "energy_above_benchmark",
            RuleKind::EnergyAboveBenchmark,
            vec![band(Warning, AtLeast, 20.0), band(Critical, AtLeast, 50.0)],
            1,
            "{subject} uses {value}% more energy per unit of value added than its sector",
        ),
        rule(
            "suspended",
            RuleKind::Suspended,
            vec![band(Warning, AtLeast, 1.0)],
            1,
            "{subject} is suspended",
        ),
        rule(
            "sustained_output_decline",
            indicator("output_growth", IndicatorMeasure::Value),
            vec![band(Critical, Below, 0.0)],
            2,
            "output has fallen year on year for two consecutive months ({value}%)",
        ),
        rule(
            "sector_over_reliance",
            indicator("sector_concentration", IndicatorMeasure::Value),
            vec![band(Warning, Above, 0.25)],
            1,
            "output relies on few sectors (HHI {value})",
        ),
        rule(
            "energy_intensity_over_target",
            indicator("energy_intensity", IndicatorMeasure::AboveTarget),
            vec![band(Warning, Above, 0.0)],
            1,
            "energy intensity is {value} kgce/10k yuan above its yearly target",
        ),
        rule(
            "investment_completion_behind",
            indicator("investment_completion_rate", IndicatorMeasure::BelowTarget),
            vec![band(Warning, AtLeast, 20.0)],
            1,
            "investment completion is {value} points behind the plan falling due this year",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(id: &str) -> Rule {
        builtin_rules().into_iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn schedule_lag_bands_at_their_boundaries() {
        let rule = builtin("schedule_lag");
        for (value, expected) in [
            (9.99, None),
            (10.0, Some(Severity::Warning)),
            (10.01, Some(Severity::Warning)),
            (29.99, Some(Severity::Warning)),
            (30.0, Some(Severity::Warning)),
            (30.01, Some(Severity::Critical)),
        ] {
            assert_eq!(rule.classify(value), expected, "{value}");
        }
    }

    #[test]
    fn investment_lag_and_cost_overrun_include_their_thresholds() {
        let lag = builtin("investment_lag");
        assert_eq!(lag.classify(19.99), None);
        assert_eq!(lag.classify(20.0), Some(Severity::Warning));
        assert_eq!(lag.classify(49.99), Some(Severity::Warning));
        assert_eq!(lag.classify(50.0), Some(Severity::Critical));
        let overrun = builtin("cost_overrun");
        assert_eq!(overrun.classify(9.99), None);
        assert_eq!(overrun.classify(10.0), Some(Severity::Warning));
        assert_eq!(overrun.classify(30.0), Some(Severity::Critical));
    }

    #[test]
    fn month_counting_rules() {
        let not_started = builtin("not_started");
        assert_eq!(not_started.classify(0.0), None);
        assert_eq!(not_started.classify(1.0), Some(Severity::Warning));
        assert_eq!(not_started.classify(2.0), Some(Severity::Warning));
        assert_eq!(not_started.classify(3.0), Some(Severity::Critical));
        let stalled = builtin("stalled_reporting");
        assert_eq!(stalled.classify(1.0), None);
        assert_eq!(stalled.classify(2.0), Some(Severity::Warning));
        assert_eq!(stalled.classify(3.0), Some(Severity::Critical));
    }

    #[test]
    fn portfolio_rules() {
        let decline = builtin("sustained_output_decline");
        assert_eq!(decline.for_periods, 2);
        assert_eq!(decline.classify(0.0), None);
        assert_eq!(decline.classify(-0.01), Some(Severity::Critical));
        let hhi = builtin("sector_over_reliance");
        assert_eq!(hhi.classify(0.25), None);
        assert_eq!(hhi.classify(0.2501), Some(Severity::Warning));
        assert_eq!(hhi.threshold(Severity::Warning), Some(0.25));
        assert_eq!(hhi.threshold(Severity::Critical), None);
    }

    #[test]
    fn edits_are_validated_field_by_field() {
        for rule in builtin_rules() {
            assert_eq!(validate(&rule), Ok(()), "{}", rule.id);
        }
        let mut bad = builtin("schedule_lag");
        bad.bands[1].threshold = 5.0; // red before yellow
        bad.for_periods = 0;
        bad.summary.clear();
        let fields: Vec<_> = validate(&bad)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["rule.bands", "rule.for_periods", "rule.summary"]);

        let mut mixed = builtin("schedule_lag");
        mixed.bands[1].comparison = Comparison::Below;
        mixed.bands[0].threshold = f64::NAN;
        let fields: Vec<_> = validate(&mixed)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["rule.bands[0].threshold", "rule.bands[1].comparison"]
        );

        let mut twice = builtin("schedule_lag");
        twice.bands[1].severity = Severity::Warning;
        assert!(validate(&twice).is_err());
    }

    #[test]
    fn summaries_fill_in_subject_name_and_value() {
        let rule = builtin("schedule_lag");
        assert_eq!(
            rule.render_summary("projects/p1", "FAW plant", Some(31.25)),
            "projects/p1 is 31.2 points behind its time-elapsed schedule"
        );
        let hhi = builtin("sector_over_reliance");
        assert_eq!(
            hhi.render_summary("indicators/sector_concentration", "", Some(0.2612)),
            "output relies on few sectors (HHI 0.261)"
        );
        assert_eq!(rule.etag(), "r1");
    }

    #[test]
    fn builtin_ids_are_unique_with_one_band_per_severity() {
        let rules = builtin_rules();
        for rule in &rules {
            assert_eq!(rules.iter().filter(|r| r.id == rule.id).count(), 1);
            for severity in [Severity::Warning, Severity::Critical] {
                assert!(rule.bands.iter().filter(|b| b.severity == severity).count() <= 1);
            }
            assert!(rule.for_periods >= 1);
        }
    }
}
