//! The vocabulary of the cube and of expressions: measures (what is summed),
//! labels (what can be filtered on), dimensions (what can be broken down by)
//! and label matchers.

use std::fmt;

use jilin_domain::{GROUPS, REGIONS, SECTORS};

/// Reported and derived amounts, each an `i64` slot of a cube cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    InvestmentCompleted,
    OutputValue,
    ValueAdded,
    EnergyKgce,
    /// Persons employed at the end of a month: a stock, not a flow.
    Employment,
    RdSpend,
    ExportValue,
    /// A project's planned investment spread evenly over its planned months.
    PlannedInvestment,
}

impl Measure {
    pub const ALL: [Measure; 8] = [
        Measure::InvestmentCompleted,
        Measure::OutputValue,
        Measure::ValueAdded,
        Measure::EnergyKgce,
        Measure::Employment,
        Measure::RdSpend,
        Measure::ExportValue,
        Measure::PlannedInvestment,
    ];

    /// The seven measures a progress report carries, in slot order.
    pub const REPORTED: [Measure; 7] = [
        Measure::InvestmentCompleted,
        Measure::OutputValue,
        Measure::ValueAdded,
        Measure::EnergyKgce,
        Measure::Employment,
        Measure::RdSpend,
        Measure::ExportValue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Measure::InvestmentCompleted => "investment_completed",
            Measure::OutputValue => "output_value",
            Measure::ValueAdded => "value_added",
            Measure::EnergyKgce => "energy_kgce",
            Measure::Employment => "employment",
            Measure::RdSpend => "rd_spend",
            Measure::ExportValue => "export_value",
            Measure::PlannedInvestment => "planned_investment",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The cell slot holding this measure.
    pub fn slot(self) -> usize {
        self as usize
    }

    /// Stocks take the last month of a period instead of summing its months.
    pub fn is_stock(self) -> bool {
        self == Measure::Employment
    }
}

/// Project statuses counted by `count(projects{status=...})`.
pub const STATUSES: [&str; 6] = [
    "PROPOSED",
    "APPROVED",
    "UNDER_CONSTRUCTION",
    "OPERATING",
    "SUSPENDED",
    "CANCELLED",
];

/// The cell slot counting projects in `STATUSES[index]`.
pub fn status_slot(index: usize) -> usize {
    Measure::ALL.len() + index
}

/// Slots per cell: the eight measures and one project count per status.
pub const SLOTS: usize = Measure::ALL.len() + STATUSES.len();

/// What a matcher can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    Sector,
    Group,
    Region,
    Changjitu,
    /// Only inside `count(projects{...})`.
    Status,
}

impl Label {
    pub const ALL: [Label; 5] = [
        Label::Sector,
        Label::Group,
        Label::Region,
        Label::Changjitu,
        Label::Status,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Label::Sector => "sector",
            Label::Group => "group",
            Label::Region => "region",
            Label::Changjitu => "changjitu",
            Label::Status => "status",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Every value the label can take.
    pub fn values(self) -> Vec<&'static str> {
        match self {
            Label::Sector => SECTORS.iter().map(|s| s.code).collect(),
            Label::Group => GROUPS.to_vec(),
            Label::Region => REGIONS.iter().map(|r| r.code).collect(),
            Label::Changjitu => vec!["true", "false"],
            Label::Status => STATUSES.to_vec(),
        }
    }
}

/// What a breakdown splits by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Sector,
    Region,
    Group,
}

impl Dimension {
    pub fn name(self) -> &'static str {
        self.label().name()
    }

    pub fn label(self) -> Label {
        match self {
            Dimension::Sector => Label::Sector,
            Dimension::Region => Label::Region,
            Dimension::Group => Label::Group,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Dimension::Sector, Dimension::Region, Dimension::Group]
            .into_iter()
            .find(|d| d.name() == name)
    }

    /// The dimension's value of a (sector, region) combination.
    pub fn member_of(self, combo: Combo) -> &'static str {
        combo
            .label_value(self.label())
            .expect("every dimension is a spatial label")
    }
}

/// `label="value"` or `label!="value"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Matcher {
    pub label: Label,
    pub negated: bool,
    pub value: String,
}

impl Matcher {
    pub fn equals(label: Label, value: impl Into<String>) -> Self {
        Self {
            label,
            negated: false,
            value: value.into(),
        }
    }

    /// Whether the matcher accepts `actual`.
    pub fn accepts(&self, actual: &str) -> bool {
        (actual == self.value) != self.negated
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "{}{}\"{}\"", self.label.name(), op, self.value)
    }
}

/// Displays matchers as `a="x", b!="y"`.
pub fn display_matchers(matchers: &[Matcher]) -> String {
    matchers
        .iter()
        .map(Matcher::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A (sector, region) pair by catalog index: the cube's spatial coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Combo {
    pub sector: usize,
    pub region: usize,
}

impl Combo {
    /// Every combination of the catalog, sectors major.
    pub fn all() -> impl Iterator<Item = Combo> {
        (0..SECTORS.len())
            .flat_map(|sector| (0..REGIONS.len()).map(move |region| Combo { sector, region }))
    }

    /// From a sector code and a prefecture code of the catalog.
    pub fn of(sector: &str, region: &str) -> Option<Combo> {
        Some(Combo {
            sector: SECTORS.iter().position(|s| s.code == sector)?,
            region: REGIONS.iter().position(|r| r.code == region)?,
        })
    }

    /// The combination's value of a spatial label (`status` has none).
    pub fn label_value(self, label: Label) -> Option<&'static str> {
        match label {
            Label::Sector => Some(SECTORS[self.sector].code),
            Label::Group => Some(SECTORS[self.sector].group),
            Label::Region => Some(REGIONS[self.region].code),
            Label::Changjitu => Some(if REGIONS[self.region].changjitu {
                "true"
            } else {
                "false"
            }),
            Label::Status => None,
        }
    }

    /// Whether every spatial matcher accepts this combination.
    pub fn matches(self, matchers: &[Matcher]) -> bool {
        matchers.iter().all(|matcher| {
            self.label_value(matcher.label)
                .is_none_or(|value| matcher.accepts(value))
        })
    }
}

/// The cell slots `count(projects{...})` adds up: one per status the
/// matchers accept.
pub fn count_slots(matchers: &[Matcher]) -> Vec<usize> {
    STATUSES
        .iter()
        .enumerate()
        .filter(|(_, status)| {
            matchers
                .iter()
                .filter(|m| m.label == Label::Status)
                .all(|m| m.accepts(status))
        })
        .map(|(index, _)| status_slot(index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_answer_every_spatial_label() {
        let combo = Combo::of("automobile", "220100").unwrap();
        assert_eq!(combo.label_value(Label::Group), Some("pillar"));
        assert_eq!(combo.label_value(Label::Changjitu), Some("true"));
        assert!(combo.matches(&[Matcher::equals(Label::Group, "pillar")]));
        let not_changchun = Matcher {
            label: Label::Region,
            negated: true,
            value: "220100".into(),
        };
        assert!(!combo.matches(&[not_changchun]));
        assert_eq!(Combo::all().count(), SECTORS.len() * REGIONS.len());
    }

    #[test]
    fn status_matchers_pick_count_slots() {
        assert_eq!(count_slots(&[]).len(), STATUSES.len());
        let building = [Matcher::equals(Label::Status, "UNDER_CONSTRUCTION")];
        assert_eq!(count_slots(&building), vec![status_slot(2)]);
    }
}
