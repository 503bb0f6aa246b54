//! What each project rule measures, as of a given day. `None` means the
//! rule does not apply (wrong status, nothing to compare): the risk is
//! clear.

use jilin_domain::Period;
use time::Date;

use super::rules::RuleKind;

pub use jilin_domain::ProjectStatus;

/// What the risk rules know about a project.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectView {
    pub status: ProjectStatus,
    pub planned_investment: i64,
    pub planned_start: Date,
    pub planned_end: Date,
    /// Sum of the investment reported so far.
    pub cumulative_investment: i64,
    /// Physical progress of the latest report, 0..=100.
    pub physical_progress: Option<i32>,
    /// The latest month reported.
    pub last_report: Option<Period>,
    /// Due date of each milestone not met.
    pub unmet_milestones: Vec<Date>,
    /// The project's energy per unit of value added over its reports.
    pub energy_intensity: Option<f64>,
}

/// The share of the planned span elapsed on `today`, in 0..=1.
pub fn elapsed_share(start: Date, end: Date, today: Date) -> f64 {
    let span = (end - start).whole_days();
    if span <= 0 {
        return if today >= end { 1.0 } else { 0.0 };
    }
    ((today - start).whole_days() as f64 / span as f64).clamp(0.0, 1.0)
}

/// Whole calendar months from `from` to `to` (0 when `to` is earlier).
fn whole_months(from: Date, to: Date) -> i32 {
    let mut months = (to.year() - from.year()) * 12 + i32::from(u8::from(to.month()))
        - i32::from(u8::from(from.month()));
    if to.day() < from.day() {
        months -= 1;
    }
    months.max(0)
}

/// The value a project rule measures on `today`; `sector_energy` is the
/// project's sector's energy intensity from the indicator service.
pub fn measure(
    kind: &RuleKind,
    project: &ProjectView,
    today: Date,
    sector_energy: Option<f64>,
) -> Option<f64> {
    use ProjectStatus::*;
    let building = project.status == UnderConstruction;
    let elapsed = elapsed_share(project.planned_start, project.planned_end, today);
    let planned = project.planned_investment as f64;
    match kind {
        // Without a report there is no progress to judge (stalled
        // reporting covers a project that never reports).
        RuleKind::ScheduleLag if building => project
            .physical_progress
            .map(|progress| elapsed * 100.0 - f64::from(progress)),
        RuleKind::InvestmentLag if building && project.last_report.is_some() => {
            let expected = elapsed * planned;
            (expected > 0.0)
                .then(|| (expected - project.cumulative_investment as f64) / expected * 100.0)
        }
        RuleKind::NotStarted if project.status == Approved => (today > project.planned_start)
            .then(|| f64::from(whole_months(project.planned_start, today))),
        RuleKind::StalledReporting if building => {
            // The month before this one is the latest that can be reported.
            let due = Period::of_date(today).add_months(-1)?;
            let since = match project.last_report {
                Some(last) => last,
                None => Period::of_date(project.planned_start).add_months(-1)?,
            };
            Some(f64::from(since.months_until(due).max(0)))
        }
        RuleKind::CostOverrun if project.status != Cancelled && planned > 0.0 => {
            Some((project.cumulative_investment as f64 - planned) / planned * 100.0)
        }
        RuleKind::OverdueMilestone if matches!(project.status, Approved | UnderConstruction) => {
            project
                .unmet_milestones
                .iter()
                .filter(|due| **due < today)
                .map(|due| (today - *due).whole_days() as f64)
                .reduce(f64::max)
        }
        RuleKind::EnergyAboveBenchmark => {
            let (own, sector) = (project.energy_intensity?, sector_energy?);
            (sector > 0.0).then(|| (own - sector) / sector * 100.0)
        }
        RuleKind::Suspended => (project.status == Suspended).then_some(1.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::{Severity, builtin_rules};
    use time::macros::date;

    fn project() -> ProjectView {
        ProjectView {
            status: ProjectStatus::UnderConstruction,
            planned_investment: 1_000_000,
            planned_start: date!(2026 - 01 - 01),
            planned_end: date!(2026 - 12 - 31),
            cumulative_investment: 0,
            physical_progress: Some(0),
            last_report: Some(Period::parse("2026-05").unwrap()),
            unmet_milestones: Vec::new(),
            energy_intensity: None,
        }
    }

    fn severity(id: &str, project: &ProjectView, today: Date) -> Option<Severity> {
        let rule = builtin_rules().into_iter().find(|r| r.id == id).unwrap();
        measure(&rule.kind, project, today, Some(1000.0)).and_then(|v| rule.classify(v))
    }

    #[test]
    fn elapsed_share_is_clamped() {
        let (start, end) = (date!(2026 - 01 - 01), date!(2026 - 01 - 11));
        assert_eq!(elapsed_share(start, end, date!(2025 - 12 - 01)), 0.0);
        assert_eq!(elapsed_share(start, end, date!(2026 - 01 - 06)), 0.5);
        assert_eq!(elapsed_share(start, end, date!(2027 - 01 - 01)), 1.0);
    }

    #[test]
    fn schedule_lag_is_points_behind_the_elapsed_share() {
        let mut p = project();
        p.planned_end = date!(2026 - 01 - 11);
        let today = date!(2026 - 01 - 06); // 50 % elapsed
        for (progress, expected) in [
            (41, None),
            (40, Some(Severity::Warning)),
            (20, Some(Severity::Warning)),
            (19, Some(Severity::Critical)),
        ] {
            p.physical_progress = Some(progress);
            assert_eq!(severity("schedule_lag", &p, today), expected, "{progress}");
        }
        p.status = ProjectStatus::Operating;
        assert_eq!(measure(&RuleKind::ScheduleLag, &p, today, None), None);
        let unreported = ProjectView {
            physical_progress: None,
            last_report: None,
            ..project()
        };
        assert_eq!(
            measure(&RuleKind::ScheduleLag, &unreported, today, None),
            None
        );
        assert_eq!(
            measure(&RuleKind::InvestmentLag, &unreported, today, None),
            None
        );
    }

    #[test]
    fn not_started_counts_whole_months_past_the_planned_start() {
        let mut p = project();
        p.status = ProjectStatus::Approved;
        assert_eq!(severity("not_started", &p, date!(2026 - 01 - 31)), None);
        assert_eq!(
            severity("not_started", &p, date!(2026 - 02 - 01)),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity("not_started", &p, date!(2026 - 03 - 31)),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity("not_started", &p, date!(2026 - 04 - 01)),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn stalled_reporting_counts_months_without_a_report() {
        let p = project(); // last report 2026-05
        assert_eq!(
            severity("stalled_reporting", &p, date!(2026 - 07 - 10)),
            None
        );
        assert_eq!(
            severity("stalled_reporting", &p, date!(2026 - 08 - 01)),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity("stalled_reporting", &p, date!(2026 - 09 - 01)),
            Some(Severity::Critical)
        );
        let never = ProjectView {
            last_report: None,
            ..project()
        };
        assert_eq!(
            measure(
                &RuleKind::StalledReporting,
                &never,
                date!(2026 - 03 - 15),
                None
            ),
            Some(2.0),
            "January and February were due"
        );
    }

    #[test]
    fn money_rules_compare_with_the_plan() {
        let mut p = project();
        p.planned_end = date!(2026 - 01 - 11);
        let today = date!(2026 - 01 - 06); // 500 000 expected
        p.cumulative_investment = 400_001;
        assert_eq!(severity("investment_lag", &p, today), None);
        p.cumulative_investment = 400_000;
        assert_eq!(
            severity("investment_lag", &p, today),
            Some(Severity::Warning)
        );
        p.cumulative_investment = 250_000;
        assert_eq!(
            severity("investment_lag", &p, today),
            Some(Severity::Critical)
        );
        p.cumulative_investment = 1_100_000;
        assert_eq!(severity("cost_overrun", &p, today), Some(Severity::Warning));
        p.cumulative_investment = 1_299_999;
        assert_eq!(severity("cost_overrun", &p, today), Some(Severity::Warning));
        p.cumulative_investment = 1_300_000;
        assert_eq!(
            severity("cost_overrun", &p, today),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn milestones_energy_and_suspension() {
        let mut p = project();
        p.unmet_milestones = vec![date!(2026 - 03 - 01), date!(2026 - 05 - 01)];
        assert_eq!(
            severity("overdue_milestone", &p, date!(2026 - 03 - 01)),
            None
        );
        assert_eq!(
            severity("overdue_milestone", &p, date!(2026 - 03 - 02)),
            Some(Severity::Warning)
        );
        assert_eq!(
            severity("overdue_milestone", &p, date!(2026 - 05 - 30)),
            Some(Severity::Critical)
        );
        p.energy_intensity = Some(1199.0);
        assert_eq!(
            severity("energy_above_benchmark", &p, date!(2026 - 05 - 30)),
            None
        );
        p.energy_intensity = Some(1200.0);
        assert_eq!(
            severity("energy_above_benchmark", &p, date!(2026 - 05 - 30)),
            Some(Severity::Warning)
        );
        assert_eq!(severity("suspended", &p, date!(2026 - 05 - 30)), None);
        p.status = ProjectStatus::Suspended;
        assert_eq!(
            severity("suspended", &p, date!(2026 - 05 - 30)),
            Some(Severity::Warning)
        );
    }
}
