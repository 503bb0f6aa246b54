//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use jilin_proto::indicators::v1 as pb;
use jilin_runtime::{CancellationToken, Reply, ResponseStream, Role, channel_stream, principal};
use pb::indicator_service_server::IndicatorService;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::error::IndicatorError;
use crate::request;
use crate::service::Indicators;

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

#[tonic::async_trait]
impl IndicatorService for IndicatorApi {
    async fn list_indicators(
        &self,
        request: Request<pb::ListIndicatorsRequest>,
    ) -> Reply<pb::ListIndicatorsResponse> {
        let concept = request::list_concept(request.get_ref()).map_err(IndicatorError::from)?;
        let indicators = self.indicators.list(concept)?;
        Ok(Response::new(pb::ListIndicatorsResponse {
            indicators: indicators.iter().map(convert::indicator_to_proto).collect(),
        }))
    }

    async fn get_indicator(
        &self,
        request: Request<pb::GetIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        let id =
            request::indicator_id(&request.get_ref().name, "name").map_err(IndicatorError::from)?;
        let definition = self.indicators.get(&id)?;
        Ok(Response::new(convert::indicator_to_proto(&definition)))
    }

    async fn create_indicator(
        &self,
        request: Request<pb::CreateIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        principal(&request)?
            .require(Role::Analyst)
            .map_err(IndicatorError::from)?;
        let (id, draft) =
            request::create_indicator(request.get_ref()).map_err(IndicatorError::from)?;
        let created = self.indicators.create(&id, &draft).await?;
        Ok(Response::new(convert::indicator_to_proto(&created)))
    }

    async fn update_indicator(
        &self,
        request: Request<pb::UpdateIndicatorRequest>,
    ) -> Reply<pb::Indicator> {
        principal(&request)?
            .require(Role::Analyst)
            .map_err(IndicatorError::from)?;
        let update = request::update_indicator(request.get_ref()).map_err(IndicatorError::from)?;
        let updated = self
            .indicators
            .update(
                &update.id,
                &update.patch,
                &update.mask,
                update.etag.as_deref(),
            )
            .await?;
        Ok(Response::new(convert::indicator_to_proto(&updated)))
    }

    async fn delete_indicator(
        &self,
        request: Request<pb::DeleteIndicatorRequest>,
    ) -> Reply<pb::DeleteIndicatorResponse> {
        principal(&request)?
            .require(Role::Analyst)
            .map_err(IndicatorError::from)?;
        let (id, etag) =
            request::delete_indicator(request.get_ref()).map_err(IndicatorError::from)?;
        self.indicators.delete(&id, etag.as_deref()).await?;
        Ok(Response::new(pb::DeleteIndicatorResponse {}))
    }

    async fn query_indicator(
        &self,
        request: Request<pb::QueryIndicatorRequest>,
    ) -> Reply<pb::QueryIndicatorResponse> {
        let (id, spec) =
            request::query_indicator(request.get_ref()).map_err(IndicatorError::from)?;
        let (definition, series) = self.indicators.query(&id, &spec)?;
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
        let (id, bucket, filter) =
            request::explain(request.get_ref()).map_err(IndicatorError::from)?;
        let explained = self.indicators.explain(&id, &bucket, filter)?;
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
        let wanted = request::watched(request.get_ref()).map_err(IndicatorError::from)?;
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
