//! Parsing each indicator request into what its use case takes. Every
//! part is checked on its own and every bad field is reported at once
//! ([`AllValid`]); nothing stands in for a bad field.

use jilin_domain::{AllValid, Checked, FieldViolation, Period, invalid, violation_on};
use jilin_proto::indicators::v1 as pb;
use jilin_runtime::{MaskField, MaskRules, optional, required, resolve_mask, resource_id};

use crate::convert;
use crate::domain::definition::{Concept, Draft, IndicatorField, check_id};
use crate::domain::labels::Matcher;
use crate::domain::parser::parse_filter;
use crate::domain::query::{self, Bucket, QuerySpec};

impl MaskField for IndicatorField {
    const ALL: &'static [Self] = &IndicatorField::ALL;

    fn path(self) -> &'static str {
        self.name()
    }
}

/// `indicators/{id}` → id, or a violation on `field`.
pub fn indicator_id(name: &str, field: &str) -> Checked<String> {
    resource_id(name, "indicators", field, |id| check_id(id).is_ok())
}

/// The concept a list is restricted to; `None` for all.
pub fn list_concept(request: &pb::ListIndicatorsRequest) -> Checked<Option<Concept>> {
    match convert::concept_from_proto(request.concept) {
        None if request.concept != 0 => invalid("concept", "unknown concept"),
        concept => Ok(concept),
    }
}

/// The id and draft of a new indicator.
pub fn create_indicator(request: &pb::CreateIndicatorRequest) -> Checked<(String, Draft)> {
    let id = check_id(&request.indicator_id)
        .map(|()| request.indicator_id.clone())
        .map_err(violation_on("indicator_id"));
    let draft = required(request.indicator.as_ref(), "indicator").map(convert::draft_from_proto);
    (id, draft).all_valid()
}

/// An UpdateIndicator request, parsed.
pub struct UpdateIndicator {
    pub id: String,
    pub patch: Draft,
    pub mask: Vec<IndicatorField>,
    pub etag: Option<String>,
}

pub fn update_indicator(request: &pb::UpdateIndicatorRequest) -> Checked<UpdateIndicator> {
    let indicator = required(request.indicator.as_ref(), "indicator")?;
    let rules = MaskRules {
        resource: "indicator",
        output_only: &[],
        when_empty: None,
    };
    let (id, mask) = (
        indicator_id(&indicator.name, "indicator.name"),
        resolve_mask(request.update_mask.as_ref(), rules),
    )
        .all_valid()?;
    Ok(UpdateIndicator {
        id,
        patch: convert::draft_from_proto(indicator),
        mask,
        etag: optional(&indicator.etag),
    })
}

/// The id and etag of an indicator to delete.
pub fn delete_indicator(request: &pb::DeleteIndicatorRequest) -> Checked<(String, Option<String>)> {
    Ok((
        indicator_id(&request.name, "name")?,
        optional(&request.etag),
    ))
}

/// The indicator and the query over it.
pub fn query_indicator(request: &pb::QueryIndicatorRequest) -> Checked<(String, QuerySpec)> {
    let granularity = convert::granularity_from_proto(request.granularity)
        .map_or_else(|| invalid("granularity", "unknown granularity"), Ok);
    let group_by = convert::group_by_from_proto(request.group_by)
        .map_or_else(|| invalid("group_by", "unknown group_by"), Ok);
    let (id, (start, end), granularity, group_by, filter) = (
        indicator_id(&request.name, "name"),
        period_range(&request.start_period, &request.end_period),
        granularity,
        group_by,
        filter(&request.filter),
    )
        .all_valid()?;
    let spec = QuerySpec {
        start,
        end,
        granularity,
        group_by,
        filter,
    };
    Ok((id, spec))
}

/// A month range, start and end included, of at most `MAX_MONTHS`.
fn period_range(start: &str, end: &str) -> Checked<(Period, Period)> {
    let month = |text: &str, field: &str| {
        Period::parse(text).map_or_else(|| invalid(field, "required, a month YYYY-MM"), Ok)
    };
    let (start, end) = (month(start, "start_period"), month(end, "end_period")).all_valid()?;
    let mut violations = Vec::new();
    if start > end {
        violations.push(FieldViolation::new(
            "end_period",
            "must not be before start_period",
        ));
    }
    if start.months_until(end) >= query::MAX_MONTHS {
        violations.push(FieldViolation::new(
            "end_period",
            format!("a query spans at most {} months", query::MAX_MONTHS),
        ));
    }
    if violations.is_empty() {
        Ok((start, end))
    } else {
        Err(violations)
    }
}

fn filter(text: &str) -> Checked<Vec<Matcher>> {
    parse_filter(text).map_err(violation_on("filter"))
}

/// The indicator, the month, quarter or year, and the filter to explain.
pub fn explain(
    request: &pb::ExplainIndicatorValueRequest,
) -> Checked<(String, Bucket, Vec<Matcher>)> {
    let bucket = Bucket::parse(&request.period).map_or_else(
        || {
            invalid(
                "period",
                "a month YYYY-MM, a quarter YYYY-Qn or a year YYYY",
            )
        },
        Ok,
    );
    (
        indicator_id(&request.name, "name"),
        bucket,
        filter(&request.filter),
    )
        .all_valid()
}

/// The ids of the indicators to watch; none means all.
pub fn watched(request: &pb::WatchIndicatorsRequest) -> Checked<Vec<String>> {
    let mut ids = Vec::new();
    let mut violations = Vec::new();
    for (index, name) in request.names.iter().enumerate() {
        match indicator_id(name, &format!("names[{index}]")) {
            Ok(id) => ids.push(id),
            Err(more) => violations.extend(more),
        }
    }
    if violations.is_empty() {
        Ok(ids)
    } else {
        Err(violations)
    }
}
