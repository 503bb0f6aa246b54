//! Turning a query (period range, granularity, breakdown, filter) into the
//! periods and groups to evaluate, and evaluating them into series.

use jilin_domain::{GROUPS, Period, REGIONS, SECTORS};

use super::cube::{CellSource, Memo};
use super::definition::{Compiled, IndicatorSet, attainment};
use super::eval::{Evaluator, Scope};
use super::labels::{Combo, Dimension, Matcher};

/// The longest range a query may span.
pub const MAX_MONTHS: i32 = 240;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Month,
    Quarter,
    Year,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Region,
    Sector,
    Group,
}

/// One point's months: `2026-03`, `2026-Q1` or `2026`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub label: String,
    pub first: Period,
    pub last: Period,
}

impl Bucket {
    /// The bucket of `granularity` holding `month`.
    pub fn containing(month: Period, granularity: Granularity) -> Bucket {
        let year = month.year();
        let (first, last, label) = match granularity {
            Granularity::Month => (month, month, month.to_string()),
            Granularity::Quarter => {
                let start = (month.quarter() - 1) * 3 + 1;
                (
                    Period::new(year, start).expect("quarter start"),
                    Period::new(year, start + 2).expect("quarter end"),
                    format!("{year:04}-Q{}", month.quarter()),
                )
            }
            Granularity::Year => (
                month.january(),
                Period::new(year, 12).expect("december"),
                format!("{year:04}"),
            ),
        };
        Bucket { label, first, last }
    }

    /// Parses `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    pub fn parse(text: &str) -> Option<Bucket> {
        if let Some(month) = Period::parse(text) {
            return Some(Bucket::containing(month, Granularity::Month));
        }
        let (year, rest) = (text.get(..4)?, text.get(4..)?);
        if !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        match rest.as_bytes() {
            [] => Some(Bucket::containing(Period::new(year, 1)?, Granularity::Year)),
            [b'-', b'Q', q @ b'1'..=b'4'] => {
                let month = (q - b'0' - 1) * 3 + 1;
                Some(Bucket::containing(
                    Period::new(year, month)?,
                    Granularity::Quarter,
                ))
            }
            _ => None,
        }
    }
}

/// The buckets covering `start..=end`, widened to whole buckets.
pub fn buckets(start: Period, end: Period, granularity: Granularity) -> Vec<Bucket> {
    let mut buckets = Vec::new();
    let mut month = start;
    while month <= end {
        let bucket = Bucket::containing(month, granularity);
        let Some(next) = bucket.last.next() else {
            buckets.push(bucket);
            break;
        };
        month = next;
        buckets.push(bucket);
    }
    buckets
}

/// One series of a breakdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Empty for no breakdown.
    pub key: String,
    pub display_name: String,
    pub matcher: Option<Matcher>,
}

/// The groups of a breakdown that the filter leaves any part of.
pub fn groups(group_by: GroupBy, filter: &[Matcher]) -> Vec<Group> {
    let dimension = match group_by {
        GroupBy::None => {
            return vec![Group {
                key: String::new(),
                display_name: "Jilin province".into(),
                matcher: None,
            }];
        }
        GroupBy::Region => Dimension::Region,
        GroupBy::Sector => Dimension::Sector,
        GroupBy::Group => Dimension::Group,
    };
    let mut keys: Vec<&str> = Vec::new();
    for combo in Combo::all().filter(|combo| combo.matches(filter)) {
        let member = dimension.member_of(combo);
        if !keys.contains(&member) {
            keys.push(member);
        }
    }
    let display = |key: &str| match dimension {
        Dimension::Region => REGIONS.iter().find(|r| r.code == key).map(|r| r.name),
        Dimension::Sector => SECTORS.iter().find(|s| s.code == key).map(|s| s.name),
        Dimension::Group => GROUPS.iter().find(|g| **g == key).copied(),
    };
    keys.into_iter()
        .map(|key| Group {
            key: key.to_owned(),
            display_name: display(key).unwrap_or(key).to_owned(),
            matcher: Some(Matcher::equals(dimension.label(), key)),
        })
        .collect()
}

/// One evaluated point.
#[derive(Clone, Debug, PartialEq)]
pub struct PointValue {
    pub period: String,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub attainment: Option<f64>,
}

/// One evaluated series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesValues {
    pub group: Group,
    pub points: Vec<PointValue>,
}

/// What to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySpec {
    pub start: Period,
    pub end: Period,
    pub granularity: Granularity,
    pub group_by: GroupBy,
    pub filter: Vec<Matcher>,
}

/// The value, target and attainment of `indicator` for one bucket.
pub fn point(
    cells: &dyn CellSource,
    indicators: &IndicatorSet,
    indicator: &Compiled,
    bucket: &Bucket,
    matchers: Vec<Matcher>,
) -> PointValue {
    let evaluator = Evaluator { cells, indicators };
    let scope = Scope {
        first: bucket.first,
        last: bucket.last,
        matchers,
    };
    let value = evaluator.value(&indicator.expr, &scope);
    let target = indicator.definition.target(bucket.last.year());
    PointValue {
        period: bucket.label.clone(),
        value,
        target,
        attainment: attainment(indicator.definition.direction, value, target),
    }
}

/// Evaluates a query: one series per group, one point per bucket.
pub fn run(
    cells: &dyn CellSource,
    indicators: &IndicatorSet,
    indicator: &Compiled,
    spec: &QuerySpec,
) -> Vec<SeriesValues> {
    let cells = &Memo::new(cells);
    let buckets = buckets(spec.start, spec.end, spec.granularity);
    groups(spec.group_by, &spec.filter)
        .into_iter()
        .map(|group| {
            let matchers: Vec<Matcher> = spec
                .filter
                .iter()
                .cloned()
                .chain(group.matcher.clone())
                .collect();
            let points = buckets
                .iter()
                .map(|bucket| point(cells, indicators, indicator, bucket, matchers.clone()))
                .collect();
            SeriesValues { group, points }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::labels::Label;

    fn month(text: &str) -> Period {
        Period::parse(text).unwrap()
    }

    #[test]
    fn buckets_widen_to_whole_quarters_and_years() {
        let quarters = buckets(month("2025-11"), month("2026-04"), Granularity::Quarter);
        let labels: Vec<_> = quarters.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["2025-Q4", "2026-Q1", "2026-Q2"]);
        assert_eq!(quarters[0].first, month("2025-10"));
        assert_eq!(quarters[2].last, month("2026-06"));
        let years = buckets(month("2025-11"), month("2026-04"), Granularity::Year);
        assert_eq!(years.len(), 2);
        assert_eq!(
            buckets(month("2026-01"), month("2026-03"), Granularity::Month).len(),
            3
        );
    }

    #[test]
    fn bucket_labels_parse_back() {
        for label in ["2026-03", "2026-Q2", "2026"] {
            let granularity = match label.len() {
                7 if label.contains('Q') => Granularity::Quarter,
                7 => Granularity::Month,
                _ => Granularity::Year,
            };
            let bucket = Bucket::parse(label).unwrap();
            assert_eq!(Bucket::containing(bucket.first, granularity), bucket);
        }
        for bad in ["2026-Q5", "2026-13", "26", "2026Q1", "abcd"] {
            assert_eq!(Bucket::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn groups_follow_the_filter() {
        assert_eq!(groups(GroupBy::Region, &[]).len(), 9);
        let changjitu = [Matcher::equals(Label::Changjitu, "true")];
        let keys: Vec<_> = groups(GroupBy::Region, &changjitu)
            .into_iter()
            .map(|g| g.key)
            .collect();
        assert_eq!(keys, ["220100", "220200", "222400"]);
        let pillar = [Matcher::equals(Label::Group, "pillar")];
        assert_eq!(groups(GroupBy::Sector, &pillar).len(), 3);
        assert_eq!(groups(GroupBy::Group, &[]).len(), 5);
        assert_eq!(groups(GroupBy::None, &pillar)[0].matcher, None);
    }
}
