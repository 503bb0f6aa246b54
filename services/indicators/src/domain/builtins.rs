//! The built-in indicator catalog, seeded at first start: the structure of
//! Jilin's industry and the five development concepts, plus the composite
//! revitalization index.
//!
//! The composite follows the OECD/JRC *Handbook on Constructing Composite
//! Indicators* (2008): each sub-indicator is normalised by distance to its
//! yearly target (`attain`: value/target, or target/value when lower is
//! better, capped at 1.2 so that over-achievement cannot compensate without
//! limit), averaged with equal weights inside its concept, and the five
//! concepts are weighted equally (0.2 each); 100 means every target met.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::definition::{Concept, Definition, Direction};

/// The first and last year the built-in targets cover.
const TARGET_YEARS: std::ops::RangeInclusive<i32> = 2024..=2030;

struct Spec {
    id: &'static str,
    name: &'static str,
    name_zh: &'static str,
    description: &'static str,
    unit: &'static str,
    direction: Direction,
    concept: Concept,
    expression: &'static str,
    /// Target in 2024 and its change per year after.
    target: Option<(f64, f64)>,
}

const SPECS: &[Spec] = &[
    Spec {
        id: "pillar_output_share",
        name: "Pillar industries' share of output",
        name_zh: "三大支柱产业产值占比",
        description: "Output of automobile, petrochemical and agricultural products processing as a share of all output.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Structure,
        expression: "sum(output_value{group=\"pillar\"}) / sum(output_value) * 100",
        target: Some((55.0, 0.0)),
    },
    Spec {
        id: "emerging_output_share",
        name: "Strategic emerging industries' share of output",
        name_zh: "战略性新兴产业产值占比",
        description: "Output of the strategic emerging industries as a share of all output.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Innovative,
        expression: "sum(output_value{group=\"emerging\"}) / sum(output_value) * 100",
        target: Some((15.0, 1.5)),
    },
    Spec {
        id: "rd_intensity",
        name: "R&D intensity",
        name_zh: "研发投入强度",
        description: "R&D spending as a share of value added.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Innovative,
        expression: "sum(rd_spend) / sum(value_added) * 100",
        target: Some((2.0, 0.15)),
    },
    Spec {
        id: "energy_intensity",
        name: "Energy intensity",
        name_zh: "单位增加值能耗",
        description: "Energy use per 10,000 yuan of value added.",
        unit: "kgce/10k yuan",
        direction: Direction::LowerIsBetter,
        concept: Concept::Green,
        expression: "sum(energy_kgce) / sum(value_added) * 10000",
        target: Some((1200.0, -35.0)),
    },
    Spec {
        id: "energy_intensity_reduction",
        name: "Energy intensity reduction",
        name_zh: "单位增加值能耗降低率",
        description: "Fall of energy intensity against the same period a year earlier.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Green,
        expression: "-yoy(sum(energy_kgce) / sum(value_added)) * 100",
        target: Some((3.0, 0.0)),
    },
    Spec {
        id: "export_share",
        name: "Export share of output",
        name_zh: "出口交货值占比",
        description: "Export value as a share of output.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Open,
        expression: "sum(export_value) / sum(output_value) * 100",
        target: Some((8.0, 0.5)),
    },
    Spec {
        id: "employment",
        name: "Employment",
        name_zh: "从业人员",
        description: "Persons employed by reporting projects at the end of the period.",
        unit: "persons",
        direction: Direction::HigherIsBetter,
        concept: Concept::Shared,
        expression: "sum(employment)",
        target: None,
    },
    Spec {
        id: "labour_productivity",
        name: "Labour productivity",
        name_zh: "全员劳动生产率",
        description: "Value added per person employed, annualised (value added of the period × 12 / months, over employment at its end).",
        unit: "yuan/person/year",
        direction: Direction::HigherIsBetter,
        concept: Concept::Shared,
        expression: "sum(value_added) * 12 / months() / sum(employment)",
        target: Some((280_000.0, 14_000.0)),
    },
    Spec {
        id: "output_growth",
        name: "Output growth",
        name_zh: "产值同比增长",
        description: "Change of output against the same period a year earlier.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Structure,
        expression: "yoy(sum(output_value)) * 100",
        target: Some((6.0, 0.0)),
    },
    Spec {
        id: "investment_completion_rate",
        name: "Investment completion rate",
        name_zh: "投资计划完成率",
        description: "Investment completed since January against the planned investment falling due in the same months (plans spread evenly over their planned months).",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Structure,
        expression: "ytd(sum(investment_completed) / sum(planned_investment)) * 100",
        target: Some((100.0, 0.0)),
    },
    Spec {
        id: "sector_concentration",
        name: "Sector concentration (HHI)",
        name_zh: "产业集中度（HHI）",
        description: "Herfindahl-Hirschman index of the sectors' shares of output, 0..1; above 0.25 means over-reliance on few sectors.",
        unit: "index",
        direction: Direction::LowerIsBetter,
        concept: Concept::Structure,
        expression: "hhi(output_value by sector)",
        target: Some((0.22, 0.0)),
    },
    Spec {
        id: "regional_dispersion",
        name: "Regional dispersion of value added",
        name_zh: "地区增加值离散系数",
        description: "Coefficient of variation of value added across the nine prefectures.",
        unit: "ratio",
        direction: Direction::LowerIsBetter,
        concept: Concept::Coordinated,
        expression: "cv(value_added by region)",
        target: Some((1.5, -0.03)),
    },
    Spec {
        id: "changjitu_share",
        name: "Changjitu zone's share of value added",
        name_zh: "长吉图地区增加值占比",
        description: "Value added in Changchun, Jilin and Yanbian as a share of the province's.",
        unit: "%",
        direction: Direction::HigherIsBetter,
        concept: Concept::Coordinated,
        expression: "sum(value_added{changjitu=\"true\"}) / sum(value_added) * 100",
        target: Some((70.0, 0.0)),
    },
    Spec {
        id: "projects_under_construction",
        name: "Projects under construction",
        name_zh: "在建项目数",
        description: "Projects under construction at the end of the period.",
        unit: "projects",
        direction: Direction::HigherIsBetter,
        concept: Concept::Structure,
        expression: "count(projects{status=\"UNDER_CONSTRUCTION\"})",
        target: None,
    },
    Spec {
        id: "revitalization_index",
        name: "Revitalization index",
        name_zh: "振兴发展综合指数",
        description: "Composite of the five development concepts: each sub-indicator's attainment of its target (capped at 1.2), equal weights within a concept, 0.2 per concept; 100 = every target met.",
        unit: "index",
        direction: Direction::HigherIsBetter,
        concept: Concept::Structure,
        expression: "100 * (0.2 * (attain(rd_intensity) + attain(emerging_output_share)) / 2 + 0.2 * attain(regional_dispersion) + 0.2 * attain(energy_intensity) + 0.2 * attain(export_share) + 0.2 * attain(labour_productivity))",
        target: Some((100.0, 0.0)),
    },
];

/// The built-in definitions, stamped with `now`.
pub fn builtins(now: OffsetDateTime) -> Vec<Definition> {
    SPECS
        .iter()
        .map(|spec| Definition {
            id: spec.id.into(),
            display_name: spec.name.into(),
            display_name_zh: spec.name_zh.into(),
            description: spec.description.into(),
            unit: spec.unit.into(),
            direction: spec.direction,
            concept: spec.concept,
            expression: spec.expression.into(),
            targets: targets(spec.target),
            built_in: true,
            revision: 1,
            create_time: now,
            update_time: now,
        })
        .collect()
}

fn targets(target: Option<(f64, f64)>) -> BTreeMap<i32, f64> {
    let Some((first, step)) = target else {
        return BTreeMap::new();
    };
    TARGET_YEARS
        .map(|year| {
            let value = first + step * f64::from(year - TARGET_YEARS.start());
            (year, (value * 1000.0).round() / 1000.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::definition::{IndicatorSet, validate};

    #[test]
    fn every_builtin_is_a_valid_definition() {
        let all = builtins(OffsetDateTime::UNIX_EPOCH);
        let (set, broken) = IndicatorSet::compile(all.clone());
        assert!(broken.is_empty(), "{broken:?}");
        for definition in &all {
            let draft = definition.draft();
            validate(&definition.id, &draft, &set, "")
                .unwrap_or_else(|v| panic!("{}: {v:?}", definition.id));
        }
        for concept in [
            Concept::Innovative,
            Concept::Coordinated,
            Concept::Green,
            Concept::Open,
            Concept::Shared,
            Concept::Structure,
        ] {
            assert!(all.iter().any(|d| d.concept == concept), "{concept:?}");
        }
    }

    #[test]
    fn targets_step_by_year() {
        let all = builtins(OffsetDateTime::UNIX_EPOCH);
        let energy = all.iter().find(|d| d.id == "energy_intensity").unwrap();
        assert_eq!(energy.target(2024), Some(1200.0));
        assert_eq!(energy.target(2026), Some(1130.0));
        assert_eq!(energy.target(2031), None);
    }
}
