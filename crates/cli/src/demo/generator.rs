//! A deterministic, seeded provincial portfolio: projects spread over the
//! nine prefectures as the economy is (Changchun and Jilin City largest),
//! over every sector group (automobile and petrochemical heavy, emerging
//! growing), with plans from tens of millions to tens of billions of yuan
//! and monthly reports with seasonality, growth and energy intensity. A
//! share of projects falls behind, stalls, overruns, never starts or gets
//! suspended, so that every built-in risk rule has something to find.
//!
//! Pure: the same seed gives the same portfolio, month by month, so the
//! loader and the live feeder agree on what each month brings.

use jilin_domain::{Period, SECTORS};
use jilin_proto::registry::v1 as registry;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use registry::project::Status;

/// Prefectures and their weight (roughly their share of industrial output).
const PREFECTURES: [(&str, u32); 9] = [
    ("220100", 34),
    ("220200", 17),
    ("220300", 8),
    ("220400", 5),
    ("220500", 7),
    ("220600", 5),
    ("220700", 10),
    ("220800", 6),
    ("222400", 8),
];

/// How a project behaves over its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    OnTrack,
    /// Builds at about half the planned pace.
    Behind,
    /// Stops reporting some months after starting.
    Stalls,
    /// Spends well beyond its plan.
    Overruns,
    /// Approved, never starts.
    NeverStarts,
    /// Suspended some months after starting.
    Suspended,
}

/// One project of the demo and its whole timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoProject {
    pub id: String,
    /// The draft to create (no name, status or revision).
    pub draft: registry::Project,
    pub behaviour: Behaviour,
    /// Month it is approved, and month construction starts (if ever).
    pub approved: Period,
    pub started: Option<Period>,
    /// Month it starts operating (if it gets there).
    pub operating: Option<Period>,
    /// Month it is suspended (if it is).
    pub suspended: Option<Period>,
    /// The last month it reports, when it stops early (stalls, suspension).
    pub last_report: Option<Period>,
    /// Established plants do not report before this month.
    history_start: Period,
    /// From this month on (the months fed live after the history) demand
    /// slows: output falls below last year's, investment is cut, so the
    /// portfolio rules have something to find while you watch.
    slowdown: Period,
    seed: u64,
    energy_per_10k: f64,
    growth: f64,
    scale: f64,
}

/// What a month brings for a project: status changes, then a report.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthOfProject {
    pub transitions: Vec<Status>,
    pub report: Option<registry::ProgressReport>,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, weighted: &'a [(T, u32)]) -> &'a T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (item, weight) in weighted {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    unreachable!("the roll is below the total")
}

/// The weight of a sector: pillar industries heaviest, automobile and
/// petrochemical most of all.
fn sector_weight(code: &str, group: &str) -> u32 {
    match (code, group) {
        ("automobile", _) => 14,
        ("petrochemical", _) => 11,
        (_, "pillar") => 7,
        (_, "emerging") => 5,
        (_, "advantageous") => 4,
        _ => 3,
    }
}

/// Energy use per 10,000 yuan of value added, by group (kgce).
fn energy_of(code: &str, group: &str) -> f64 {
    match (code, group) {
        ("petrochemical" | "metallurgy" | "building-materials", _) => 4_000.0,
        (_, "pillar" | "traditional") => 1_300.0,
        (_, "emerging") => 500.0,
        _ => 350.0,
    }
}

/// Yearly output growth, by group.
fn growth_of(group: &str) -> f64 {
    match group {
        "emerging" => 0.15,
        "traditional" => -0.03,
        "pillar" => 0.05,
        _ => 0.07,
    }
}

/// Spring Festival dip, year-end push.
fn seasonality(month: u8) -> f64 {
    [
        0.75, 0.7, 1.0, 1.0, 1.02, 1.05, 0.98, 0.98, 1.03, 1.05, 1.08, 1.2,
    ][usize::from(month) - 1]
}

/// The development and reform commission of a prefecture: the agency
/// that registers its projects (`2201-drc` for Changchun, 220100).
pub fn agency_of(prefecture: &str) -> String {
    format!("{}-drc", &prefecture[..4])
}

/// Every agency the demo portfolio's projects belong to.
pub fn agencies() -> Vec<String> {
    PREFECTURES
        .iter()
        .map(|(code, _)| agency_of(code))
        .collect()
}

/// `count` projects whose history starts at `first` (plans start up to
/// three years before it and up to `last`), from `seed`.
pub fn portfolio(seed: u64, count: usize, first: Period, last: Period) -> Vec<DemoProject> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sectors: Vec<(&jilin_domain::Sector, u32)> = SECTORS
        .iter()
        .map(|s| (s, sector_weight(s.code, s.group)))
        .collect();
    let behaviours = [
        (Behaviour::OnTrack, 55),
        (Behaviour::Behind, 12),
        (Behaviour::Stalls, 8),
        (Behaviour::Overruns, 8),
        (Behaviour::NeverStarts, 7),
        (Behaviour::Suspended, 6),
    ];
    let span = first.months_until(last).max(1);
    (0..count)
        .map(|index| {
            let sector = *pick(&mut rng, &sectors);
            let prefecture = *pick(&mut rng, &PREFECTURES);
            let mut behaviour = *pick(&mut rng, &behaviours);
            // Log-uniform from 30 million to 30 billion yuan.
            let planned = 10f64.powf(rng.random_range(7.5..10.5)).round() as i64;
            // A third are the province's established plants, operating
            // before the history starts (they report from its first month);
            // a third were approved in the three years before it; the rest
            // during it.
            let roll = rng.random_range(0..3);
            let approved = match roll {
                0 => first.add_months(-rng.random_range(60..96)),
                1 => first.add_months(-rng.random_range(1..36)),
                _ => first.add_months(rng.random_range(0..span)),
            }
            .expect("in range");
            let established = roll == 0;
            if established {
                behaviour = Behaviour::OnTrack;
            }
            let start = approved
                .add_months(rng.random_range(1..4))
                .expect("in range");
            let months = if established {
                rng.random_range(12..25)
            } else {
                rng.random_range(12..49)
            };
            let end = start.add_months(months).expect("in range");
            if end < first {
                behaviour = Behaviour::OnTrack;
            }
            let started = (behaviour != Behaviour::NeverStarts).then_some(start);
            let operating =
                (behaviour == Behaviour::OnTrack).then(|| end.add_months(1).expect("in range"));
            let suspended = (behaviour == Behaviour::Suspended)
                .then(|| start.add_months(rng.random_range(3..10)).expect("in range"));
            let last_report = match behaviour {
                Behaviour::NeverStarts => None,
                Behaviour::Stalls => start.add_months(rng.random_range(2..8)),
                Behaviour::Suspended => suspended.and_then(|s| s.add_months(-1)),
                _ => None,
            };
            let id = format!(
                "{}-{:03}",
                sector.code.split('-').next().unwrap_or("p"),
                index
            );
            let county = if rng.random_bool(0.3) {
                format!("{}{:02}", &prefecture[..4], rng.random_range(2..8))
            } else {
                prefecture.to_owned()
            };
            let draft = registry::Project {
                display_name: format!("{} project {index}", sector.name),
                description: format!("Demo project of the {} sector", sector.name),
                sector: sector.code.to_owned(),
                region_code: county,
                agency: agency_of(prefecture),
                tags: if prefecture == "220100" || prefecture == "220200" || prefecture == "222400"
                {
                    vec!["changjitu".into()]
                } else {
                    Vec::new()
                },
                planned_investment_yuan: planned,
                planned_start_date: format!("{start}-01"),
                planned_end_date: format!("{end}-28"),
                milestones: vec![registry::Milestone {
                    title: "Main works complete".into(),
                    due_date: format!("{}-15", start.add_months(months * 2 / 3).expect("in range")),
                    status: registry::milestone::Status::Scheduled.into(),
                    met_date: String::new(),
                }],
                ..Default::default()
            };
            DemoProject {
                id,
                draft,
                behaviour,
                approved,
                started,
                operating,
                suspended,
                last_report,
                slowdown: last.next().expect("in range"),
                seed: rng.random(),
                energy_per_10k: energy_of(sector.code, sector.group) * rng.random_range(0.7..1.4),
                growth: growth_of(sector.group),
                scale: planned as f64 / if established { 15.0 } else { 40.0 },
                history_start: first,
            }
        })
        .collect()
}

impl DemoProject {
    fn planned_months(&self) -> i32 {
        let (start, end) = (
            self.period_of(&self.draft.planned_start_date),
            self.period_of(&self.draft.planned_end_date),
        );
        start.months_until(end).max(1)
    }

    fn period_of(&self, date: &str) -> Period {
        Period::parse(&date[..7]).expect("generated dates are valid")
    }

    /// The status the project has once `month`'s changes are made.
    pub fn status_at(&self, month: Period) -> Status {
        let mut status = Status::Proposed;
        for (at, next) in [
            (Some(self.approved), Status::Approved),
            (self.started, Status::UnderConstruction),
            (self.suspended, Status::Suspended),
            (self.operating, Status::Operating),
        ] {
            if at.is_some_and(|at| at <= month) {
                status = next;
            }
        }
        status
    }

    /// What `month` brings: its status changes and its report.
    pub fn month(&self, month: Period) -> MonthOfProject {
        let mut transitions = Vec::new();
        if month == self.approved {
            transitions.push(Status::Approved);
        }
        if Some(month) == self.started {
            transitions.push(Status::UnderConstruction);
        }
        if Some(month) == self.suspended {
            transitions.push(Status::Suspended);
        }
        if Some(month) == self.operating {
            transitions.push(Status::Operating);
        }
        let report = self.report(month);
        MonthOfProject {
            transitions,
            report,
        }
    }

    fn report(&self, month: Period) -> Option<registry::ProgressReport> {
        let start = self.started?;
        if month < start || self.last_report.is_some_and(|last| month > last) {
            return None;
        }
        // Plants already running before the history enter it running.
        if month < self.history_start && self.operating.is_some_and(|operating| month >= operating)
        {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (month.year() as u64 * 12 + u64::from(month.month_number())),
        );
        let months = self.planned_months();
        let done = start.months_until(month) + 1;
        let pace = match self.behaviour {
            Behaviour::Behind => 0.45,
            Behaviour::Overruns => 1.5,
            _ => 1.0,
        };
        let building = self.operating.is_none_or(|operating| month < operating);
        let monthly_plan = self.draft.planned_investment_yuan as f64 / f64::from(months);
        let (demand, spending) = if month >= self.slowdown {
            (0.78, 0.6)
        } else {
            (1.0, 1.0)
        };
        let investment = if building {
            (monthly_plan * pace * spending * rng.random_range(0.9..1.1)) as i64
        } else {
            0
        };
        let progress = if building {
            ((f64::from(done) / f64::from(months)) * 100.0 * pace.min(1.0)).min(99.0) as i32
        } else {
            100
        };
        // Output ramps up with progress; operating projects produce fully.
        let years = f64::from(start.months_until(month)) / 12.0;
        let ramp = if building {
            0.05 + 0.25 * f64::from(progress) / 100.0
        } else {
            1.0
        };
        let output = (demand
            * self.scale
            * ramp
            * seasonality(month.month_number())
            * (1.0 + self.growth).powf(years)
            * rng.random_range(0.93..1.07)) as i64;
        let value_added = output * 28 / 100;
        Some(registry::ProgressReport {
            period: month.to_string(),
            investment_completed_yuan: investment,
            output_value_yuan: output,
            value_added_yuan: value_added,
            energy_kgce: (value_added as f64 / 10_000.0 * self.energy_per_10k) as i64,
            employment: (self.scale / 400_000.0 * ramp).max(5.0) as i64,
            rd_spend_yuan: value_added * if self.growth > 0.1 { 6 } else { 2 } / 100,
            export_value_yuan: output * 8 / 100,
            physical_progress_percent: progress,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Vec<DemoProject> {
        portfolio(
            7,
            300,
            Period::parse("2023-01").unwrap(),
            Period::parse("2025-06").unwrap(),
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_portfolio() {
        let (a, b) = (demo(), demo());
        assert_eq!(a, b);
        let month = Period::parse("2024-06").unwrap();
        assert_eq!(a[3].month(month), b[3].month(month));
        let other = portfolio(
            8,
            300,
            Period::parse("2023-01").unwrap(),
            Period::parse("2025-06").unwrap(),
        );
        assert_ne!(a, other);
    }

    #[test]
    fn the_economy_is_weighted_as_the_province_is() {
        let projects = demo();
        let in_prefecture = |code: &str| {
            projects
                .iter()
                .filter(|p| p.draft.region_code[..4] == code[..4])
                .count()
        };
        assert!(in_prefecture("220100") > in_prefecture("220200"));
        assert!(in_prefecture("220200") > in_prefecture("220400"));
        for (code, _) in PREFECTURES {
            assert!(in_prefecture(code) > 0, "{code}");
        }
        let automobile = projects
            .iter()
            .filter(|p| p.draft.sector == "automobile")
            .count();
        let logistics = projects
            .iter()
            .filter(|p| p.draft.sector == "logistics")
            .count();
        assert!(
            automobile > 2 * logistics.max(1),
            "{automobile} vs {logistics}"
        );
        let plans: Vec<i64> = projects
            .iter()
            .map(|p| p.draft.planned_investment_yuan)
            .collect();
        assert!(plans.iter().any(|p| *p < 100_000_000), "tens of millions");
        assert!(
            plans.iter().any(|p| *p > 10_000_000_000),
            "tens of billions"
        );
    }

    #[test]
    fn every_behaviour_is_present_so_every_rule_finds_something() {
        let projects = demo();
        for behaviour in [
            Behaviour::OnTrack,
            Behaviour::Behind,
            Behaviour::Stalls,
            Behaviour::Overruns,
            Behaviour::NeverStarts,
            Behaviour::Suspended,
        ] {
            assert!(
                projects.iter().any(|p| p.behaviour == behaviour),
                "{behaviour:?}"
            );
        }
    }

    #[test]
    fn reports_follow_the_life_of_the_project() {
        for project in demo() {
            let mut month = project.approved;
            let mut status = Vec::new();
            for _ in 0..60 {
                let this = project.month(month);
                status.extend(this.transitions.iter().copied());
                if let Some(report) = &this.report {
                    assert!(
                        project.started.is_some_and(|s| month >= s),
                        "{}",
                        project.id
                    );
                    assert!(report.value_added_yuan <= report.output_value_yuan);
                    assert!((0..=100).contains(&report.physical_progress_percent));
                    assert!(report.energy_kgce >= 0 && report.investment_completed_yuan >= 0);
                }
                month = month.next().unwrap();
            }
            if project.behaviour == Behaviour::NeverStarts {
                assert_eq!(status, [Status::Approved]);
            }
            assert_eq!(
                Some(&project.status_at(month)),
                status.last().or(Some(&Status::Proposed))
            );
        }
    }
}
