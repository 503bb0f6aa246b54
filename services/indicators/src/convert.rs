//! Conversions between the contract's protobuf messages and the domain's
//! types. The only place that knows both.

use jilin_proto::indicators::v1 as pb;

use crate::domain::definition::{Concept, Definition, Direction, Draft};
use crate::domain::query::{Granularity, GroupBy, PointValue, SeriesValues};
use crate::publisher::ValueChange;

pub use jilin_proto::timestamp;

pub fn direction_to_proto(direction: Direction) -> pb::Direction {
    match direction {
        Direction::HigherIsBetter => pb::Direction::HigherIsBetter,
        Direction::LowerIsBetter => pb::Direction::LowerIsBetter,
    }
}

pub fn direction_from_proto(value: i32) -> Option<Direction> {
    match pb::Direction::try_from(value).ok()? {
        pb::Direction::HigherIsBetter => Some(Direction::HigherIsBetter),
        pb::Direction::LowerIsBetter => Some(Direction::LowerIsBetter),
        pb::Direction::Unspecified => None,
    }
}

pub fn concept_to_proto(concept: Concept) -> pb::Concept {
    match concept {
        Concept::Innovative => pb::Concept::Innovative,
        Concept::Coordinated => pb::Concept::Coordinated,
        Concept::Green => pb::Concept::Green,
        Concept::Open => pb::Concept::Open,
        Concept::Shared => pb::Concept::Shared,
        Concept::Structure => pb::Concept::Structure,
    }
}

pub fn concept_from_proto(value: i32) -> Option<Concept> {
    Some(match pb::Concept::try_from(value).ok()? {
        pb::Concept::Innovative => Concept::Innovative,
        pb::Concept::Coordinated => Concept::Coordinated,
        pb::Concept::Green => Concept::Green,
        pb::Concept::Open => Concept::Open,
        pb::Concept::Shared => Concept::Shared,
        pb::Concept::Structure => Concept::Structure,
        pb::Concept::Unspecified => return None,
    })
}

/// MONTH when unspecified; `None` for an unknown number.
pub fn granularity_from_proto(value: i32) -> Option<Granularity> {
    Some(match pb::Granularity::try_from(value).ok()? {
        pb::Granularity::Unspecified | pb::Granularity::Month => Granularity::Month,
        pb::Granularity::Quarter => Granularity::Quarter,
        pb::Granularity::Year => Granularity::Year,
    })
}

pub fn granularity_to_proto(granularity: Granularity) -> pb::Granularity {
    match granularity {
        Granularity::Month => pb::Granularity::Month,
        Granularity::Quarter => pb::Granularity::Quarter,
        Granularity::Year => pb::Granularity::Year,
    }
}

/// NONE when unspecified; `None` for an unknown number.
pub fn group_by_from_proto(value: i32) -> Option<GroupBy> {
    Some(match pb::GroupBy::try_from(value).ok()? {
        pb::GroupBy::Unspecified | pb::GroupBy::None => GroupBy::None,
        pb::GroupBy::Region => GroupBy::Region,
        pb::GroupBy::Sector => GroupBy::Sector,
        pb::GroupBy::Group => GroupBy::Group,
    })
}

pub fn group_by_to_proto(group_by: GroupBy) -> pb::GroupBy {
    match group_by {
        GroupBy::None => pb::GroupBy::None,
        GroupBy::Region => pb::GroupBy::Region,
        GroupBy::Sector => pb::GroupBy::Sector,
        GroupBy::Group => pb::GroupBy::Group,
    }
}

pub fn indicator_to_proto(definition: &Definition) -> pb::Indicator {
    pb::Indicator {
        name: definition.name(),
        display_name: definition.display_name.clone(),
        display_name_zh: definition.display_name_zh.clone(),
        description: definition.description.clone(),
        unit: definition.unit.clone(),
        direction: direction_to_proto(definition.direction).into(),
        concept: concept_to_proto(definition.concept).into(),
        expression: definition.expression.clone(),
        targets: definition
            .targets
            .iter()
            .map(|(year, value)| pb::Target {
                year: *year,
                value: *value,
            })
            .collect(),
        built_in: definition.built_in,
        etag: definition.etag(),
        revision: definition.revision,
        create_time: Some(timestamp(definition.create_time)),
        update_time: Some(timestamp(definition.update_time)),
    }
}

/// The user-settable fields of a message, unchecked.
pub fn draft_from_proto(indicator: &pb::Indicator) -> Draft {
    Draft {
        display_name: indicator.display_name.clone(),
        display_name_zh: indicator.display_name_zh.clone(),
        description: indicator.description.clone(),
        unit: indicator.unit.clone(),
        direction: direction_from_proto(indicator.direction),
        concept: concept_from_proto(indicator.concept),
        expression: indicator.expression.clone(),
        targets: indicator
            .targets
            .iter()
            .map(|t| (t.year, t.value))
            .collect(),
    }
}

pub fn point_to_proto(point: &PointValue) -> pb::Point {
    pb::Point {
        period: point.period.clone(),
        value: point.value,
        target: point.target,
        attainment: point.attainment,
    }
}

pub fn series_to_proto(series: &SeriesValues) -> pb::Series {
    pb::Series {
        group: series.group.key.clone(),
        group_display_name: series.group.display_name.clone(),
        points: series.points.iter().map(point_to_proto).collect(),
    }
}

pub fn change_to_proto(change: &ValueChange) -> pb::IndicatorValueChange {
    pb::IndicatorValueChange {
        name: format!("indicators/{}", change.indicator),
        period: change.period.to_string(),
        group_by: group_by_to_proto(change.group_by).into(),
        group: change.group.clone(),
        value: change.value,
        previous_value: change.previous,
        target: change.target,
        attainment: change.attainment,
        unit: change.unit.clone(),
        direction: direction_to_proto(change.direction).into(),
        revision: change.revision,
        time: Some(timestamp(change.time)),
    }
}

pub fn term_to_proto(term: &crate::domain::eval::Term) -> pb::Term {
    pb::Term {
        expression: term.expression.clone(),
        start_period: term.first.map(|p| p.to_string()).unwrap_or_default(),
        end_period: term.last.to_string(),
        filter: crate::domain::labels::display_matchers(&term.matchers),
        value: term.value,
    }
}
