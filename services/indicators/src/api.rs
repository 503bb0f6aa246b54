//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use jilin_domain::{Period, Violations};
use jilin_proto::indicators::v1 as pb;
use jilin_runtime::{CancellationToken, ResponseStream, channel_stream, resolve_mask};
use pb::indicator_service_server::IndicatorService;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::definition::check_id;
use crate::domain::labels::Matcher;
use crate::domain::parser::parse_filter;
use crate::domain::query::{Bucket, QuerySpec};
use crate::error::IndicatorError;
use crate::service::{Indicators, MUTABLE_FIELDS, check_range};

pub struct IndicatorApi {
    indicators: Indicators,
    /// Ends open watch streams at shutdown.
    shutdown: CancellationToken,
}

impl IndicatorApi {
    pub fn new(indicators: Indicators, shutdown: CancellationToken) -> Self {
        Self {
            indicators,
            shutdown,
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// `indicators/{id}` -> id, or a field violation on `field`.
fn indicator_id<'a>(name: &'a str, field: &str, violations: &mut Violations) -> &'a str {
    match name.strip_prefix("indicators/") {
        Some(id) if check_id(id).is_ok() => id,
        _ => {
            violations.add(
                field,
                format!("`{name}` is not an indicator name `indicators/{{indicator_id}}`"),
            );
            ""
        }
    }
}

fn filter(text: &str, field: &str, violations: &mut Violations) -> Vec<Matcher> {
    parse_filter(text).unwrap_or_else(|err| {
        violations.add(field, err.to_string());
        Vec::new()
    })
}

fn fail(violations: Violations) -> Result<(), IndicatorError> {
    violations
        .into_result(())
        .map_err(IndicatorError::InvalidArgument)
}

#[tonic::async_trait]
impl IndicatorService for IndicatorApi {
    async fn list_indicators(
        &self,
        request: Request<pb::ListIndicatorsRequest>,
    ) -> Reply<pb::ListIndicatorsResponse> {
        let request = request.into_inner();
        let concept = convert::concept_from_proto(request.concept);
        if concept.is_none() && request.concept != 0 {
            return Err(IndicatorError::invalid("concept", "unknown concept").into());
        }
        let indicators = self.indicators.list(concept)?;
        Ok(Response::new(pb::ListIndicatorsResponse {
            indicators: indicators.iter().map(convert::indicator_to_proto).collect(),
        }))
    }

    async fn get_indicator(
        &self,
        request: Request<pb::GetIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        let mut violations = Violations::new();
        let id = indicator_id(&request.get_ref().name, "name", &mut violations);
        fail(violations)?;
        let definition = self.indicators.get(id)?;
        Ok(Response::new(convert::indicator_to_proto(&definition)))
    }

    async fn create_indicator(
        &self,
        request: Request<pb::CreateIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        if let Err(reason) = check_id(&request.indicator_id) {
            violations.add("indicator_id", reason);
        }
        let draft = request.indicator.as_ref().map(convert::draft_from_proto);
        violations.check(draft.is_some(), "indicator", "required");
        fail(violations)?;
        let draft = draft.expect("checked");
        let created = self
            .indicators
            .create(&request.indicator_id, &draft)
            .await?;
        Ok(Response::new(convert::indicator_to_proto(&created)))
    }

    async fn update_indicator(
        &self,
        request: Request<pb::UpdateIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let Some(indicator) = request.indicator.as_ref() else {
            return Err(IndicatorError::invalid("indicator", "required").into());
        };
        let id = indicator_id(&indicator.name, "indicator.name", &mut violations);
        let mask = resolve_mask(
            request.update_mask.as_ref(),
            "indicator",
            &MUTABLE_FIELDS,
            &mut violations,
        );
        fail(violations)?;
        let etag = (!indicator.etag.is_empty()).then_some(indicator.etag.as_str());
        let patch = convert::draft_from_proto(indicator);
        let updated = self.indicators.update(id, &patch, &mask, etag).await?;
        Ok(Response::new(convert::indicator_to_proto(&updated)))
    }

    async fn delete_indicator(
        &self,
        request: Request<pb::DeleteIndicatorRequest>,
    ) -> Reply<pb::DeleteIndicatorResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = indicator_id(&request.name, "name", &mut violations);
        fail(violations)?;
        let etag = (!request.etag.is_empty()).then_some(request.etag.as_str());
        self.indicators.delete(id, etag).await?;
        Ok(Response::new(pb::DeleteIndicatorResponse {}))
    }

    async fn query_indicator(
        &self,
        request: Request<pb::QueryIndicatorRequest>,
    ) -> Reply<pb::QueryIndicatorResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = indicator_id(&request.name, "name", &mut violations);
        let start = Period::parse(&request.start_period);
        let end = Period::parse(&request.end_period);
        violations.extend(check_range(start, end));
        let granularity = convert::granularity_from_proto(request.granularity);
        violations.check(granularity.is_some(), "granularity", "unknown granularity");
        let group_by = convert::group_by_from_proto(request.group_by);
        violations.check(group_by.is_some(), "group_by", "unknown group_by");
        let filter = filter(&request.filter, "filter", &mut violations);
        fail(violations)?;
        let spec = QuerySpec {
            start: start.expect("checked"),
            end: end.expect("checked"),
            granularity: granularity.expect("checked"),
            group_by: group_by.expect("checked"),
            filter,
        };
        let (definition, series) = self.indicators.query(id, &spec)?;
        Ok(Response::new(pb::QueryIndicatorResponse {
            indicator: Some(convert::indicator_to_proto(&definition)),
            granularity: convert::granularity_to_proto(spec.granularity).into(),
            group_by: convert::group_by_to_proto(spec.group_by).into(),
            series: series.iter().map(convert::series_to_proto).collect(),
        }))
    }

    async fn explain_indicator_value(
        &self,
        request: Request<pb::ExplainIndicatorValueRequest>,
    ) -> Reply<pb::Explanation> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = indicator_id(&request.name, "name", &mut violations);
        let bucket = Bucket::parse(&request.period);
        violations.check(
            bucket.is_some(),
            "period",
            "a month YYYY-MM, a quarter YYYY-Qn or a year YYYY",
        );
        let filter = filter(&request.filter, "filter", &mut violations);
        fail(violations)?;
        let explained = self
            .indicators
            .explain(id, &bucket.expect("checked"), filter)?;
        Ok(Response::new(pb::Explanation {
            indicator: Some(convert::indicator_to_proto(&explained.definition)),
            period: explained.point.period.clone(),
            parsed_expression: explained.parsed_expression,
            value: explained.point.value,
            target: explained.point.target,
            attainment: explained.point.attainment,
            terms: explained.terms.iter().map(convert::term_to_proto).collect(),
        }))
    }

    type WatchIndicatorsStream = ResponseStream<pb::IndicatorValueChange>;

    async fn watch_indicators(
        &self,
        request: Request<pb::WatchIndicatorsRequest>,
    ) -> Reply<Self::WatchIndicatorsStream> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let mut wanted = Vec::new();
        for (index, name) in request.names.iter().enumerate() {
            let id = indicator_id(name, &format!("names[{index}]"), &mut violations);
            wanted.push(id.to_owned());
        }
        fail(violations)?;
        for id in &wanted {
            self.indicators.get(id)?;
        }
        let mut changes = self.indicators.subscribe();
        let shutdown = self.shutdown.clone();
        let stream = channel_stream(move |sender| async move {
            loop {
                let change = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    change = changes.recv() => change,
                };
                let item = match change {
                    Ok(change) if wanted.is_empty() || wanted.contains(&change.indicator) => {
                        Ok(convert::change_to_proto(&change))
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => Err(Status::aborted(format!(
                        "the watcher fell {missed} changes behind; query again and re-watch"
                    ))),
                    Err(RecvError::Closed) => return,
                };
                let failed = item.is_err();
                if sender.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }
}
