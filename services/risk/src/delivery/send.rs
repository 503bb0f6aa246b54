//! The sender: makes the attempts of each queued delivery whose time has
//! come (by the wall clock), several at once, and records each attempt in
//! its own transaction: delivered on a 2xx, otherwise retried with backoff
//! until the receiver's deadline, then failed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jilin_runtime::{CancellationToken, Clock};
use jilin_store::StoreError;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::payload::{self, Request};
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::receiver::{DEFAULT_WEBHOOK_TIMEOUT, Receiver, ReceiverKind};
use crate::metrics::DeliveryMetrics;
use crate::store::Tables;

/// Attempts in flight at once.
const CONCURRENT_ATTEMPTS: usize = 32;
/// The longest sleep with nothing due (a queued delivery rings anyway).
const IDLE: Duration = Duration::from_secs(1);
/// What a receiver's answer is cut to in an attempt's error.
const MAX_ERROR_BODY: usize = 256;

#[derive(Clone)]
pub struct Sender {
    pub tables: Tables,
    /// The wall clock attempts and backoff are timed by.
    pub wall: Clock,
    pub http: reqwest::Client,
    /// The CloudEvents source of what the service sends.
    pub source: &'static str,
    /// `--external-url`: Alertmanager's `generatorURL` base.
    pub external_url: Option<String>,
    pub wake: Arc<Notify>,
    pub metrics: DeliveryMetrics,
}

/// An HTTP client for receivers: no redirects followed (a receiver's
/// answer is its own), rustls with the web's roots.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jilin-risk/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

impl Sender {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let wait = match self.send_due().await {
                Ok(wait) => wait,
                Err(err) => {
                    tracing::error!(error = %err, "sending notifications failed");
                    IDLE
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Makes one attempt of every delivery due now; returns how long
    /// until the next one is due.
    pub async fn send_due(&self) -> Result<Duration, StoreError> {
        let now = self.wall.now();
        let mut due = Vec::new();
        let mut next: Option<OffsetDateTime> = None;
        let queue = self.tables.delivery_queue.scan_prefix("")?;
        self.metrics
            .queued
            .set(i64::try_from(queue.len()).unwrap_or(i64::MAX));
        for (id, _) in queue {
            match self.tables.deliveries.get(&id)? {
                Some(delivery) if delivery.next_attempt_at <= now => due.push(delivery),
                Some(delivery) => {
                    next = Some(next.map_or(delivery.next_attempt_at, |n| {
                        n.min(delivery.next_attempt_at)
                    }));
                }
                None => {}
            }
        }
        let attempted = due.len();
        futures::stream::iter(due)
            .map(|delivery| self.attempt(delivery))
            .buffer_unordered(CONCURRENT_ATTEMPTS)
            .collect::<Vec<Result<(), StoreError>>>()
            .await
            .into_iter()
            .collect::<Result<(), StoreError>>()?;
        if attempted > 0 {
            return Ok(Duration::ZERO);
        }
        Ok(next.map_or(IDLE, |next| {
            Duration::try_from(next - self.wall.now())
                .unwrap_or(Duration::ZERO)
                .min(IDLE)
        }))
    }

    /// One attempt of `delivery`, recorded.
    async fn attempt(&self, delivery: Delivery) -> Result<(), StoreError> {
        let receiver = self
            .tables
            .receivers
            .get(&delivery.notification.receiver_id)?;
        let attempt = match &receiver {
            Some(receiver) => Some(self.post(&delivery, receiver).await),
            None => None,
        };
        let tables = &self.tables;
        let id = delivery.id.as_str();
        let recorded = tables
            .store
            .write(|tx| {
                let Some(mut delivery) = tx.get(&tables.deliveries, id)? else {
                    return Ok::<_, StoreError>(None);
                };
                match attempt.clone() {
                    Some(attempt) => delivery.record(attempt, rand::random_range(0.5..=1.0)),
                    None => delivery.abandon(self.wall.now()),
                }
                tx.insert(&tables.deliveries, id, &delivery)?;
                if !delivery.is_pending() {
                    tx.remove(&tables.delivery_queue, id)?;
                }
                Ok(Some(delivery))
            })
            .await?;
        if let Some(delivery) = recorded {
            self.metrics.count(&delivery);
        }
        Ok(())
    }

    /// POSTs the delivery's request to its receiver.
    async fn post(&self, delivery: &Delivery, receiver: &Receiver) -> Attempt {
        let at = self.wall.now();
        let (request, timeout) = match &receiver.kind {
            ReceiverKind::Webhook {
                url,
                secret,
                timeout,
            } => (
                payload::webhook(delivery, url, secret.as_deref(), self.source),
                *timeout,
            ),
            ReceiverKind::Alertmanager { url } => (
                payload::alertmanager(delivery, url, at, self.external_url.as_deref()),
                DEFAULT_WEBHOOK_TIMEOUT,
            ),
        };
        let (http_status, error) = match self.exchange(request, timeout).await {
            Ok(()) => (200, None),
            Err((status, error)) => (status, Some(error)),
        };
        if let Some(error) = &error {
            tracing::warn!(delivery = %delivery.id, receiver = %receiver.id, http_status, error, "delivery attempt failed");
        }
        Attempt {
            at,
            http_status,
            error,
        }
    }

    /// Sends `request`; Ok on a 2xx, else the status (0 without one) and why.
    async fn exchange(&self, request: Request, timeout: Duration) -> Result<(), (u16, String)> {
        let mut builder = self.http.post(&request.url).timeout(timeout);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body)
            .send()
            .await
            .map_err(|err| (0, describe(&err)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(MAX_ERROR_BODY).collect();
        Err((status.as_u16(), format!("{status}: {body}")))
    }
}

/// An HTTP failure with its causes, e.g. "connection refused".
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
