//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use jilin_proto::risk::v1 as pb;
use jilin_runtime::{CancellationToken, Reply, ResponseStream, Role, channel_stream, principal};
use pb::risk_service_server::RiskService;
use tonic::{Request, Response};

use crate::convert;
use crate::delivery::request as delivery_request;
use crate::error::RiskError;
use crate::request;
use crate::service::Risk;

/// Changes read per store scan while a watcher catches up.
const WATCH_CHUNK: usize = 256;

pub struct RiskApi {
    risk: Risk,
    /// Ends open watch streams at shutdown.
    shutdown: CancellationToken,
}

impl RiskApi {
    pub fn new(risk: Risk, shutdown: CancellationToken) -> Self {
        Self { risk, shutdown }
    }
}

#[tonic::async_trait]
impl RiskService for RiskApi {
    async fn list_rules(&self, _: Request<pb::ListRulesRequest>) -> Reply<pb::ListRulesResponse> {
        let rules = self.risk.list_rules()?;
        Ok(Response::new(pb::ListRulesResponse {
            rules: rules.iter().map(convert::rule_to_proto).collect(),
        }))
    }

    async fn get_rule(&self, request: Request<pb::GetRuleRequest>) -> Reply<pb::Rule> {
        let id =
            request::id_in("rules", &request.get_ref().name, "name").map_err(RiskError::from)?;
        Ok(Response::new(convert::rule_to_proto(
            &self.risk.get_rule(&id)?,
        )))
    }

    async fn create_rule(&self, request: Request<pb::CreateRuleRequest>) -> Reply<pb::Rule> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let new = request::create_rule(request.get_ref()).map_err(RiskError::from)?;
        let rule = self.risk.create_rule(new, &caller.subject).await?;
        Ok(Response::new(convert::rule_to_proto(&rule)))
    }

    async fn update_rule(&self, request: Request<pb::UpdateRuleRequest>) -> Reply<pb::Rule> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let update = request::update_rule(request.get_ref()).map_err(RiskError::from)?;
        let rule = self.risk.update_rule(update, &caller.subject).await?;
        Ok(Response::new(convert::rule_to_proto(&rule)))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Reply<pb::ListAlertsResponse> {
        let request = request.into_inner();
        let (filter, page_size) = request::list_alerts(&request).map_err(RiskError::from)?;
        let page = self
            .risk
            .list_alerts(&filter, page_size, &request.page_token)?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: page
                .alerts
                .iter()
                .map(|(alert, silenced)| convert::alert_to_proto(alert, *silenced))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_alert(&self, request: Request<pb::GetAlertRequest>) -> Reply<pb::Alert> {
        let fingerprint =
            request::id_in("alerts", &request.get_ref().name, "name").map_err(RiskError::from)?;
        let (alert, silenced) = self.risk.get_alert(&fingerprint)?;
        Ok(Response::new(convert::alert_to_proto(&alert, silenced)))
    }

    async fn acknowledge_alert(
        &self,
        request: Request<pb::AcknowledgeAlertRequest>,
    ) -> Reply<pb::Alert> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let (fingerprint, comment) =
            request::acknowledge(request.get_ref()).map_err(RiskError::from)?;
        let (alert, silenced) = self
            .risk
            .acknowledge(&fingerprint, &caller.subject, &comment)
            .await?;
        Ok(Response::new(convert::alert_to_proto(&alert, silenced)))
    }

    async fn create_silence(
        &self,
        request: Request<pb::CreateSilenceRequest>,
    ) -> Reply<pb::Silence> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let silence =
            request::create_silence(request.get_ref(), caller.subject).map_err(RiskError::from)?;
        let silence = self.risk.create_silence(silence).await?;
        Ok(Response::new(convert::silence_to_proto(&silence)))
    }

    async fn list_silences(
        &self,
        request: Request<pb::ListSilencesRequest>,
    ) -> Reply<pb::ListSilencesResponse> {
        let silences = self.risk.list_silences(request.get_ref().include_expired)?;
        Ok(Response::new(pb::ListSilencesResponse {
            silences: silences.iter().map(convert::silence_to_proto).collect(),
        }))
    }

    async fn delete_silence(
        &self,
        request: Request<pb::DeleteSilenceRequest>,
    ) -> Reply<pb::DeleteSilenceResponse> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let id =
            request::id_in("silences", &request.get_ref().name, "name").map_err(RiskError::from)?;
        self.risk.delete_silence(&id).await?;
        Ok(Response::new(pb::DeleteSilenceResponse {}))
    }

    async fn create_receiver(
        &self,
        request: Request<pb::CreateReceiverRequest>,
    ) -> Reply<pb::Receiver> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let receiver = delivery_request::create_receiver(request.get_ref(), &caller.subject)
            .map_err(RiskError::from)?;
        let receiver = self.risk.create_receiver(receiver).await?;
        Ok(Response::new(convert::receiver_to_proto(&receiver)))
    }

    /// Supervisors only: a webhook URL may carry a token of its own.
    async fn get_receiver(&self, request: Request<pb::GetReceiverRequest>) -> Reply<pb::Receiver> {
        principal(&request)?
            .require(Role::Supervisor)
            .map_err(RiskError::from)?;
        let id = request::id_in("receivers", &request.get_ref().name, "name")
            .map_err(RiskError::from)?;
        Ok(Response::new(convert::receiver_to_proto(
            &self.risk.get_receiver(&id)?,
        )))
    }

    async fn list_receivers(
        &self,
        request: Request<pb::ListReceiversRequest>,
    ) -> Reply<pb::ListReceiversResponse> {
        principal(&request)?
            .require(Role::Supervisor)
            .map_err(RiskError::from)?;
        let receivers = self.risk.list_receivers()?;
        Ok(Response::new(pb::ListReceiversResponse {
            receivers: receivers.iter().map(convert::receiver_to_proto).collect(),
        }))
    }

    async fn delete_receiver(
        &self,
        request: Request<pb::DeleteReceiverRequest>,
    ) -> Reply<pb::DeleteReceiverResponse> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let id = request::id_in("receivers", &request.get_ref().name, "name")
            .map_err(RiskError::from)?;
        self.risk.delete_receiver(&id).await?;
        Ok(Response::new(pb::DeleteReceiverResponse {}))
    }

    async fn create_route(&self, request: Request<pb::CreateRouteRequest>) -> Reply<pb::Route> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let route = delivery_request::create_route(request.get_ref(), &caller.subject)
            .map_err(RiskError::from)?;
        let route = self.risk.create_route(route).await?;
        Ok(Response::new(convert::route_to_proto(&route)))
    }

    async fn list_routes(
        &self,
        _: Request<pb::ListRoutesRequest>,
    ) -> Reply<pb::ListRoutesResponse> {
        let routes = self.risk.list_routes()?;
        Ok(Response::new(pb::ListRoutesResponse {
            routes: routes.iter().map(convert::route_to_proto).collect(),
        }))
    }

    async fn delete_route(
        &self,
        request: Request<pb::DeleteRouteRequest>,
    ) -> Reply<pb::DeleteRouteResponse> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let id =
            request::id_in("routes", &request.get_ref().name, "name").map_err(RiskError::from)?;
        self.risk.delete_route(&id).await?;
        Ok(Response::new(pb::DeleteRouteResponse {}))
    }

    async fn create_inhibition(
        &self,
        request: Request<pb::CreateInhibitionRequest>,
    ) -> Reply<pb::Inhibition> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let inhibition = delivery_request::create_inhibition(request.get_ref(), &caller.subject)
            .map_err(RiskError::from)?;
        let inhibition = self.risk.create_inhibition(inhibition).await?;
        Ok(Response::new(convert::inhibition_to_proto(&inhibition)))
    }

    async fn list_inhibitions(
        &self,
        _: Request<pb::ListInhibitionsRequest>,
    ) -> Reply<pb::ListInhibitionsResponse> {
        let inhibitions = self.risk.list_inhibitions()?;
        Ok(Response::new(pb::ListInhibitionsResponse {
            inhibitions: inhibitions
                .iter()
                .map(convert::inhibition_to_proto)
                .collect(),
        }))
    }

    async fn delete_inhibition(
        &self,
        request: Request<pb::DeleteInhibitionRequest>,
    ) -> Reply<pb::DeleteInhibitionResponse> {
        let caller = principal(&request)?;
        caller.require(Role::Supervisor).map_err(RiskError::from)?;
        let id = request::id_in("inhibitions", &request.get_ref().name, "name")
            .map_err(RiskError::from)?;
        self.risk.delete_inhibition(&id).await?;
        Ok(Response::new(pb::DeleteInhibitionResponse {}))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Reply<pb::ListDeliveriesResponse> {
        let (filter, size, token) =
            delivery_request::list_deliveries(request.get_ref()).map_err(RiskError::from)?;
        let page = self.risk.list_deliveries(&filter, size, &token)?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: page
                .deliveries
                .iter()
                .map(convert::delivery_to_proto)
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    type WatchAlertsStream = ResponseStream<pb::AlertChange>;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Reply<Self::WatchAlertsStream> {
        let request = request.into_inner();
        let (filter, after) = request::watch_alerts(&request).map_err(RiskError::from)?;
        let last = self.risk.last_sequence()?;
        let after = match (request.from_start, after) {
            (true, _) => 0,
            (false, 0) => last,
            (false, after) if after > last => {
                return Err(RiskError::invalid(
                    "after_sequence",
                    format!("{after} is beyond the last change, {last}"),
                )
                .into());
            }
            (false, after) => after,
        };
        let risk = self.risk.clone();
        let mut committed = risk.monitor().subscribe();
        let shutdown = self.shutdown.clone();
        let stream = channel_stream(move |sender| async move {
            let mut cursor = after;
            loop {
                committed.borrow_and_update();
                let records = match risk.changes_after(cursor, WATCH_CHUNK) {
                    Ok(records) => records,
                    Err(err) => {
                        let _ = sender.send(Err(err.into())).await;
                        return;
                    }
                };
                if records.is_empty() {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = sender.closed() => return,
                        changed = committed.changed() => if changed.is_err() { return },
                    }
                    continue;
                }
                for record in records {
                    cursor = record.sequence;
                    if filter.matches(&record.alert) {
                        let change = convert::change_record_to_proto(&record);
                        if sender.send(Ok(change)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(stream))
    }
}
