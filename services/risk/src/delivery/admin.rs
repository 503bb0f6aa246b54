//! The use cases behind the receiver, route and delivery RPCs. A route
//! must name an existing receiver, and a receiver a route names cannot be
//! deleted; every route edit reloads the monitor's routes, and a new route
//! takes the alerts already firing.

use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::inhibition::{self, Inhibition, builtin_inhibitions};
use crate::domain::receiver::{self, Receiver};
use crate::domain::routing::{self, Route};
use crate::error::RiskError;
use crate::service::Risk;
use jilin_runtime::ApiError;

/// Largest ListDeliveries page.
pub const MAX_DELIVERY_PAGE: usize = 500;
const DEFAULT_DELIVERY_PAGE: usize = 50;

/// What ListDeliveries keeps.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub receiver: Option<String>,
    /// A fingerprint.
    pub alert: Option<String>,
    pub state: Option<DeliveryState>,
}

impl DeliveryFilter {
    fn keeps(&self, delivery: &Delivery) -> bool {
        let notification = &delivery.notification;
        self.receiver
            .as_ref()
            .is_none_or(|receiver| *receiver == notification.receiver_id)
            && self.alert.as_ref().is_none_or(|fingerprint| {
                notification
                    .alerts
                    .iter()
                    .any(|alert| alert.fingerprint == *fingerprint)
            })
            && self.state.is_none_or(|state| state == delivery.state)
    }
}

/// One page of deliveries, oldest first.
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub next_page_token: String,
}

fn not_found(name: String) -> RiskError {
    RiskError::Api(ApiError::NotFound(name))
}

impl Risk {
    pub async fn create_receiver(&self, receiver: Receiver) -> Result<Receiver, RiskError> {
        receiver::validate_receiver(&receiver).map_err(RiskError::from)?;
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if tx.get(&tables.receivers, &receiver.id)?.is_some() {
                    return Err(RiskError::Api(ApiError::AlreadyExists(format!(
                        "receivers/{}",
                        receiver.id
                    ))));
                }
                Ok(tx.insert(&tables.receivers, &receiver.id, &receiver)?)
            })
            .await?;
        Ok(receiver)
    }

    pub fn get_receiver(&self, id: &str) -> Result<Receiver, RiskError> {
        self.tables()
            .receivers
            .get(id)?
            .ok_or_else(|| not_found(format!("receivers/{id}")))
    }

    pub fn list_receivers(&self) -> Result<Vec<Receiver>, RiskError> {
        let receivers = self.tables().receivers.scan_prefix("")?;
        Ok(receivers
            .into_iter()
            .map(|(_, receiver)| receiver)
            .collect())
    }

    /// Refused while a route names it; its queued deliveries then fail.
    pub async fn delete_receiver(&self, id: &str) -> Result<(), RiskError> {
        let routes = self.list_routes()?;
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if tx.get(&tables.receivers, id)?.is_none() {
                    return Err(not_found(format!("receivers/{id}")));
                }
                // Routes are re-read through `tx`, so a route created
                // meanwhile conflicts instead of being missed.
                for route in &routes {
                    if tx
                        .get(&tables.routes, &route.id)?
                        .is_some_and(|route| route.receiver == id)
                    {
                        return Err(RiskError::precondition(
                            &format!("receivers/{id}"),
                            format!("routes/{} sends to it: delete the route first", route.id),
                        ));
                    }
                }
                Ok(tx.remove(&tables.receivers, id)?)
            })
            .await
    }

    pub async fn create_route(&self, route: Route) -> Result<Route, RiskError> {
        routing::validate_route(&route).map_err(RiskError::from)?;
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if tx.get(&tables.routes, &route.id)?.is_some() {
                    return Err(RiskError::Api(ApiError::AlreadyExists(format!(
                        "routes/{}",
                        route.id
                    ))));
                }
                if tx.get(&tables.receivers, &route.receiver)?.is_none() {
                    return Err(RiskError::precondition(
                        &format!("routes/{}", route.id),
                        format!("receivers/{} does not exist", route.receiver),
                    ));
                }
                Ok(tx.insert(&tables.routes, &route.id, &route)?)
            })
            .await?;
        self.monitor().reload_routes()?;
        let staged = super::stage_firing(self.monitor()).await?;
        tracing::info!(route = %route.id, staged, "route created; firing alerts routed");
        Ok(route)
    }

    /// In the order they are tried.
    pub fn list_routes(&self) -> Result<Vec<Route>, RiskError> {
        let mut routes: Vec<Route> = self
            .tables()
            .routes
            .scan_prefix("")?
            .into_iter()
            .map(|(_, route)| route)
            .collect();
        routes.sort_by(|a, b| (a.position, &a.id).cmp(&(b.position, &b.id)));
        Ok(routes)
    }

    /// Groups it formed still tell their receivers what they hold.
    pub async fn delete_route(&self, id: &str) -> Result<(), RiskError> {
        let tables = self.tables();
        tables
            .store
            .write(|tx| match tx.get(&tables.routes, id)? {
                Some(_) => Ok(tx.remove(&tables.routes, id)?),
                None => Err(not_found(format!("routes/{id}"))),
            })
            .await?;
        self.monitor().reload_routes()?;
        Ok(())
    }

    /// Refused for an id a built-in inhibition has.
    pub async fn create_inhibition(&self, inhibition: Inhibition) -> Result<Inhibition, RiskError> {
        inhibition::validate(&inhibition).map_err(RiskError::from)?;
        let name = format!("inhibitions/{}", inhibition.id);
        let built_in = builtin_inhibitions().iter().any(|b| b.id == inhibition.id);
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if built_in || tx.get(&tables.inhibitions, &inhibition.id)?.is_some() {
                    return Err(RiskError::Api(ApiError::AlreadyExists(name.clone())));
                }
                Ok(tx.insert(&tables.inhibitions, &inhibition.id, &inhibition)?)
            })
            .await?;
        Ok(inhibition)
    }

    /// The built-in ones first.
    pub fn list_inhibitions(&self) -> Result<Vec<Inhibition>, RiskError> {
        let mut inhibitions = builtin_inhibitions();
        let stored = self.tables().inhibitions.scan_prefix("")?;
        inhibitions.extend(stored.into_iter().map(|(_, inhibition)| inhibition));
        Ok(inhibitions)
    }

    pub async fn delete_inhibition(&self, id: &str) -> Result<(), RiskError> {
        let name = format!("inhibitions/{id}");
        if builtin_inhibitions().iter().any(|b| b.id == id) {
            return Err(RiskError::precondition(
                &name,
                "a built-in inhibition cannot be deleted",
            ));
        }
        let tables = self.tables();
        tables
            .store
            .write(|tx| match tx.get(&tables.inhibitions, id)? {
                Some(_) => Ok(tx.remove(&tables.inhibitions, id)?),
                None => Err(not_found(name.clone())),
            })
            .await
    }

    /// Deliveries kept by `filter`, oldest first, after `page_token`.
    pub fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page_size: usize,
        page_token: &str,
    ) -> Result<DeliveryPage, RiskError> {
        let size = match page_size {
            0 => DEFAULT_DELIVERY_PAGE,
            size => size.min(MAX_DELIVERY_PAGE),
        };
        let mut deliveries = Vec::new();
        let mut next_page_token = String::new();
        for (id, delivery) in
            self.tables()
                .deliveries
                .scan_prefix_after("", page_token, usize::MAX)?
        {
            if !filter.keeps(&delivery) {
                continue;
            }
            if deliveries.len() == size {
                next_page_token = deliveries
                    .last()
                    .map(|last: &Delivery| last.id.clone())
                    .unwrap_or(id);
                break;
            }
            deliveries.push(delivery);
        }
        Ok(DeliveryPage {
            deliveries,
            next_page_token,
        })
    }
}
