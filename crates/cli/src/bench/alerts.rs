//! The end-to-end scenario: a report is acknowledged by the registry →
//! the risk service's `schedule_lag` alert for it is heard, on NATS
//! (`jilin.risk.alert.>`) and on WatchAlerts, by a plain subscriber, and
//! delivered to a webhook receiver ([`super::webhook`]).
//!
//! Probe projects (half their planned time elapsed) report the current
//! month at 5% progress (45 points behind: fires critical), then at 95%
//! (resolves), and so on, each flip a few seconds after the last one of
//! the same project. Each flip's alert change is known in advance (which
//! project, firing or resolved, which episode), so each is matched with
//! the acknowledgement that caused it. Meanwhile the `report` scenario may
//! run at a background rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hdrhistogram::Histogram;
use jilin_bus::async_nats;
use jilin_proto::events::v1 as events;
use jilin_proto::risk::v1 as risk;
use prost::Message;
use tokio::time::Instant;

use super::load::{self, Mode, Recorded, Span};
use super::scenarios::{BenchProjects, Clients};
use super::webhook::Heard;

/// How long a flip's alert may take before it counts as not heard.
pub const NOT_HEARD_AFTER: Duration = Duration::from_secs(5);

/// Seconds between two flips of the same probe project, at least.
const FLIP_EVERY_SECONDS: f64 = 5.0;

/// How many of the slowest flips each listener names, with when they were
/// acknowledged, to be matched against the services' logs.
const SLOWEST_NAMED: usize = 5;

/// One alert change a flip causes: the project, firing or not, the episode.
type Expected = (String, bool, i32);

/// When a flip's report was acknowledged: for the latency, and on the wall
/// clock for the slowest ones.
#[derive(Clone, Copy)]
struct Acked {
    at: Instant,
    wall: time::OffsetDateTime,
}

/// One listener's figures: acknowledgement → hearing.
pub struct Hearing {
    pub latency: Histogram<u64>,
    /// Acknowledged flips not heard within [`NOT_HEARD_AFTER`].
    pub missing: u64,
    /// The slowest heard flips, slowest first: latency and acknowledgement.
    pub slowest: Vec<(Duration, time::OffsetDateTime)>,
}

/// What the end-to-end run measured.
pub struct AlertLatency {
    pub flips: u64,
    pub nats: Hearing,
    pub watch: Hearing,
    /// Report acknowledged → the webhook's POST; and POSTs received.
    pub webhook: Hearing,
    pub webhook_posts: u64,
    pub report_errors: u64,
    /// The background reports' offered rate and own figures, if any ran.
    pub background: Option<(f64, Recorded)>,
}

/// Acknowledgements and hearings by expected change, matched in either
/// order (an alert can be heard before its report's answer arrives).
#[derive(Default)]
struct Ledger {
    acked: HashMap<Expected, Acked>,
    heard_nats: HashMap<Expected, Instant>,
    heard_watch: HashMap<Expected, Instant>,
}

/// A `schedule_lag` alert of one of this run's probes.
fn is_probe_lag(alert: &risk::Alert, probe_prefix: &str) -> bool {
    alert.rule == "rules/schedule_lag" && alert.subject.starts_with(probe_prefix)
}

fn expected_of(alert: &risk::Alert) -> Expected {
    let firing = alert.state() == risk::alert::State::Firing;
    (alert.subject.clone(), firing, alert.episode)
}

/// Where alert changes are heard: NATS, WatchAlerts, a webhook.
pub struct Listeners {
    pub nats: async_nats::Client,
    pub watcher: risk::risk_service_client::RiskServiceClient<crate::client::AuthedChannel>,
    pub webhook: Arc<Mutex<Heard>>,
}

/// Runs the probes at `probe_rate` flips/s for `span`, with `background`
/// reports/s on other projects meanwhile; flips acknowledged during the
/// warm-up are not counted.
pub async fn measure(
    clients: &Clients,
    probes: BenchProjects,
    background: Option<(f64, BenchProjects)>,
    listeners: Listeners,
    probe_rate: f64,
    span: Span,
) -> Result<AlertLatency, String> {
    let Listeners {
        nats,
        mut watcher,
        webhook,
    } = listeners;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut subscription = nats
        .subscribe("jilin.risk.alert.>")
        .await
        .map_err(|err| format!("cannot subscribe on NATS: {err}"))?;
    let mut watch = watcher
        .watch_alerts(risk::WatchAlertsRequest::default())
        .await
        .map_err(|status| format!("WatchAlerts: {}", status.message()))?
        .into_inner();
    let prefix = format!("projects/bench-{}-", probes.run);
    let heard_on_nats = {
        let (ledger, prefix) = (ledger.clone(), prefix.clone());
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let now = Instant::now();
                let Ok(changed) = events::AlertChanged::decode(message.payload) else {
                    continue;
                };
                if let Some(alert) = changed.change.and_then(|change| change.alert)
                    && is_probe_lag(&alert, &prefix)
                {
                    let mut ledger = ledger.lock().expect("ledger");
                    ledger.heard_nats.entry(expected_of(&alert)).or_insert(now);
                }
            }
        })
    };
    let heard_on_watch = {
        let (ledger, prefix) = (ledger.clone(), prefix.clone());
        tokio::spawn(async move {
            while let Some(Ok(change)) = watch.next().await {
                let now = Instant::now();
                if let Some(alert) = change.alert
                    && is_probe_lag(&alert, &prefix)
                {
                    let mut ledger = ledger.lock().expect("ledger");
                    ledger.heard_watch.entry(expected_of(&alert)).or_insert(now);
                }
            }
        })
    };

    let background_rate = background.as_ref().map_or(0.0, |(rate, _)| *rate);
    let background_run = background.map(|(rate, projects)| {
        let clients = clients.clone();
        tokio::spawn(load::drive(Mode::Open { rate }, span, move |index| {
            let (clients, projects) = (clients.clone(), projects.clone());
            async move {
                super::scenarios::call(
                    super::scenarios::Scenario::Report,
                    &clients,
                    &projects,
                    index,
                )
                .await
            }
        }))
    });

    let probe_count = probes.count;
    // Flips acknowledged during the warm-up are not counted, like calls.
    let measure_from = Instant::now() + span.warmup;
    let flips = {
        let (clients, ledger) = (clients.clone(), ledger.clone());
        load::drive(Mode::Open { rate: probe_rate }, span, move |index| {
            let (clients, probes, ledger) = (clients.clone(), probes.clone(), ledger.clone());
            async move {
                let round = (index / probe_count) as i32;
                let firing = round % 2 == 0;
                let progress = if firing { 5 } else { 95 };
                let request = probes.report_request(index, probes.this_month, progress);
                let parent = request.parent.clone();
                clients
                    .registry(index)
                    .report_progress(request)
                    .await
                    .map_err(|status| status.message().to_owned())?;
                let acked = Acked {
                    at: Instant::now(),
                    wall: time::OffsetDateTime::now_utc(),
                };
                if acked.at < measure_from {
                    return Ok(());
                }
                let episode = round / 2 + 1;
                let mut ledger = ledger.lock().expect("ledger");
                ledger.acked.insert((parent, firing, episode), acked);
                Ok(())
            }
        })
        .await
    };
    let background = match background_run {
        Some(run) => run.await.ok().map(|recorded| (background_rate, recorded)),
        None => None,
    };
    tokio::time::sleep(NOT_HEARD_AFTER).await;
    heard_on_nats.abort();
    heard_on_watch.abort();

    let ledger = ledger.lock().expect("ledger");
    let webhook = webhook.lock().expect("heard");
    Ok(AlertLatency {
        flips: ledger.acked.len() as u64,
        nats: hearing(&ledger.acked, &ledger.heard_nats),
        watch: hearing(&ledger.acked, &ledger.heard_watch),
        webhook: hearing(&ledger.acked, &webhook.first),
        webhook_posts: webhook.posts,
        report_errors: flips.errors,
        background,
    })
}

/// The number of probe projects for `probe_rate` flips/s: enough that each
/// flips at most every [`FLIP_EVERY_SECONDS`].
pub fn probe_count(probe_rate: f64) -> u64 {
    (probe_rate * FLIP_EVERY_SECONDS).ceil().max(1.0) as u64
}

/// Acknowledgement → hearing, for every acknowledged flip heard within
/// [`NOT_HEARD_AFTER`]; how many were not; the slowest.
fn hearing(acked: &HashMap<Expected, Acked>, heard: &HashMap<Expected, Instant>) -> Hearing {
    let mut latency = load::new_histogram();
    let mut missing = 0;
    let mut each = Vec::with_capacity(acked.len());
    for (expected, acked) in acked {
        match heard.get(expected) {
            Some(heard_at) if heard_at.saturating_duration_since(acked.at) <= NOT_HEARD_AFTER => {
                let took = heard_at.saturating_duration_since(acked.at);
                latency.saturating_record((took.as_micros() as u64).max(1));
                each.push((took, acked.wall));
            }
            _ => missing += 1,
        }
    }
    each.sort_unstable_by_key(|(took, _)| std::cmp::Reverse(*took));
    each.truncate(SLOWEST_NAMED);
    Hearing {
        latency,
        missing,
        slowest: each,
    }
}
