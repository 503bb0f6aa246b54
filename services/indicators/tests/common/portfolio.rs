//! A seeded generator of registry histories (projects with updates that
//! move them, status changes, reports with revisions), the registry events
//! they produce, and a naive recomputation of every cube total straight
//! from the final raw data, written independently of the service's ledger.

#![allow(dead_code)]

use std::collections::BTreeMap;

use jilin_domain::{Period, REGIONS, SECTORS, prefecture_of};
use jilin_indicators::domain::cube::{CellSource, ComboTotals};
use jilin_indicators::domain::labels::{Combo, STATUSES};
use jilin_indicators::domain::ledger::{Fact, ProjectSnapshot, ReportFacts};

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One revision of a project as the registry would hold it.
#[derive(Clone, Debug)]
pub struct ProjectRevision {
    pub revision: i64,
    pub sector: &'static str,
    /// A prefecture or a county code under one.
    pub region: String,
    pub planned: i64,
    pub start: Period,
    pub end: Period,
    pub status: usize,
    pub month: Period,
}

/// One revision of one month's report.
#[derive(Clone, Debug)]
pub struct ReportRevision {
    pub revision: i64,
    pub measures: [i64; 7],
    /// The project revision current when it was submitted.
    pub project_revision: i64,
}

/// Everything the registry would have recorded.
#[derive(Clone, Debug, Default)]
pub struct Portfolio {
    pub projects: BTreeMap<String, Vec<ProjectRevision>>,
    pub reports: BTreeMap<(String, Period), Vec<ReportRevision>>,
}

/// A registry event: its id and what it says.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    pub fact: Fact,
}

fn month(text: &str) -> Period {
    Period::parse(text).unwrap()
}

impl Portfolio {
    /// `projects` projects reporting over `months` months from 2024-01.
    pub fn generate(seed: u64, projects: usize, months: i32) -> Self {
        let mut rng = Rng::new(seed);
        let first = month("2024-01");
        let mut portfolio = Portfolio::default();
        for p in 0..projects {
            let id = format!("p{p:04}");
            let start = first.add_months(rng.below(6) as i32).unwrap();
            let end = start.add_months(6 + rng.below(40) as i32).unwrap();
            let mut current = ProjectRevision {
                revision: 1,
                sector: SECTORS[rng.below(SECTORS.len() as u64) as usize].code,
                region: county(&mut rng),
                planned: 1_000_000 + rng.below(5_000_000_000) as i64,
                start,
                end,
                status: rng.below(2) as usize,
                month: first,
            };
            let mut revisions = vec![current.clone()];
            for offset in 0..months {
                let period = first.add_months(offset).unwrap();
                // Project changes this month: a move, a new plan, a status.
                if rng.chance(4) {
                    current.revision += 1;
                    current.month = period;
                    if rng.chance(50) {
                        current.sector = SECTORS[rng.below(SECTORS.len() as u64) as usize].code;
                    } else {
                        current.region = county(&mut rng);
                    }
                    if rng.chance(30) {
                        current.planned += rng.below(1_000_000_000) as i64;
                    }
                    revisions.push(current.clone());
                }
                if rng.chance(8) {
                    current.revision += 1;
                    current.month = period;
                    current.status = rng.below(STATUSES.len() as u64) as usize;
                    revisions.push(current.clone());
                }
                if !rng.chance(80) {
                    continue;
                }
                let key = (id.clone(), period);
                let count = 1 + usize::from(rng.chance(15)) + usize::from(rng.chance(5));
                let mut reports = Vec::new();
                for revision in 1..=count as i64 {
                    reports.push(ReportRevision {
                        revision,
                        measures: measures(&mut rng),
                        project_revision: current.revision,
                    });
                }
                portfolio.reports.insert(key, reports);
            }
            portfolio.projects.insert(id, revisions);
        }
        portfolio
    }

    /// Every event the registry would have published, in its order.
    pub fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for (id, revisions) in &self.projects {
            for revision in revisions {
                events.push((
                    revision.month,
                    0,
                    Event {
                        id: format!("{id}-r{}", revision.revision),
                        fact: Fact::Project(snapshot(id, revision)),
                    },
                ));
            }
        }
        for ((id, period), reports) in &self.reports {
            let revisions = &self.projects[id];
            for report in reports {
                let project = revisions
                    .iter()
                    .find(|r| r.revision == report.project_revision)
                    .expect("report refers to a known revision");
                events.push((
                    *period,
                    1,
                    Event {
                        id: format!("{id}-{period}-v{}", report.revision),
                        fact: Fact::Report {
                            project: snapshot(id, project),
                            period: *period,
                            report: ReportFacts {
                                revision: report.revision,
                                measures: report.measures,
                            },
                        },
                    },
                ));
            }
        }
        events.sort_by_key(|(month, kind, _)| (*month, *kind));
        events.into_iter().map(|(_, _, event)| event).collect()
    }

    /// The project's final attributes: the highest revision.
    fn latest(&self, id: &str) -> &ProjectRevision {
        self.projects[id].last().expect("a project has revisions")
    }

    fn combo_of(&self, id: &str) -> Combo {
        let latest = self.latest(id);
        let prefecture = prefecture_of(&latest.region).unwrap().code;
        Combo::of(latest.sector, prefecture).unwrap()
    }
}

fn county(rng: &mut Rng) -> String {
    let prefecture = REGIONS[rng.below(REGIONS.len() as u64) as usize].code;
    if rng.chance(50) {
        prefecture.to_owned()
    } else {
        format!("{}{:02}", &prefecture[..4], 1 + rng.below(20))
    }
}

fn measures(rng: &mut Rng) -> [i64; 7] {
    let output = rng.below(900_000_000) as i64;
    [
        rng.below(500_000_000) as i64,
        output,
        output / (2 + rng.below(4) as i64),
        rng.below(5_000_000) as i64,
        rng.below(3_000) as i64,
        rng.below(20_000_000) as i64,
        if rng.chance(40) { output / 10 } else { 0 },
    ]
}

pub fn snapshot(id: &str, revision: &ProjectRevision) -> ProjectSnapshot {
    ProjectSnapshot {
        id: id.to_owned(),
        revision: revision.revision,
        sector: revision.sector.to_owned(),
        region: revision.region.clone(),
        planned_investment: revision.planned,
        planned_start: revision.start,
        planned_end: revision.end,
        status: revision.status,
        month: revision.month,
    }
}

/// Reorders events and repeats some, as a broker redelivering and a
/// registry replaying might.
pub fn shuffle_with_duplicates(events: &[Event], seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<Event> = events.to_vec();
    for event in events {
        if rng.chance(10) {
            out.push(event.clone());
        }
    }
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// The naive recomputation: totals straight from the final raw data, i.e.
/// the latest revision of every report and of every project, with no
/// knowledge of events, deltas or their order.
pub struct Naive<'a> {
    portfolio: &'a Portfolio,
    /// (month, combo index) → the seven reported measures and the plan.
    monthly: BTreeMap<(Period, usize), [i128; 8]>,
}

impl<'a> Naive<'a> {
    pub fn new(portfolio: &'a Portfolio) -> Self {
        let mut monthly: BTreeMap<(Period, usize), [i128; 8]> = BTreeMap::new();
        for ((id, period), reports) in &portfolio.reports {
            let latest = reports.iter().max_by_key(|r| r.revision).unwrap();
            let cell = monthly
                .entry((*period, combo_index(portfolio.combo_of(id))))
                .or_default();
            for (slot, value) in latest.measures.iter().enumerate() {
                cell[slot] += i128::from(*value);
            }
        }
        for id in portfolio.projects.keys() {
            let latest = portfolio.latest(id);
            let months = i64::from(latest.start.months_until(latest.end)) + 1;
            for i in 0..months {
                let period = latest.start.add_months(i as i32).unwrap();
                let share = latest.planned / months + i64::from(i < latest.planned % months);
                let cell = monthly
                    .entry((period, combo_index(portfolio.combo_of(id))))
                    .or_default();
                cell[7] += i128::from(share);
            }
        }
        Self { portfolio, monthly }
    }
}

fn combo_index(combo: Combo) -> usize {
    combo.sector * REGIONS.len() + combo.region
}

impl CellSource for Naive<'_> {
    fn totals(&self, slots: &[usize], first: Option<Period>, last: Period) -> ComboTotals {
        let mut totals = vec![0i128; SECTORS.len() * REGIONS.len()];
        let in_range = |period: Period| first.is_none_or(|f| f <= period) && period <= last;
        for &slot in slots {
            if slot < 8 {
                for ((period, combo), cell) in &self.monthly {
                    if in_range(*period) {
                        totals[*combo] += cell[slot];
                    }
                }
                continue;
            }
            assert!(first.is_none(), "counts are read as stocks");
            for (id, revisions) in &self.portfolio.projects {
                let at_end = revisions
                    .iter()
                    .filter(|r| r.month <= last)
                    .max_by_key(|r| r.revision);
                if at_end.is_some_and(|r| r.status == slot - 8) {
                    totals[combo_index(self.portfolio.combo_of(id))] += 1;
                }
            }
        }
        totals
    }
}
