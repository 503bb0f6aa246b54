//! What the fault suite runs and checks with: the service binaries as
//! processes that can be SIGKILLed and restarted on the same port and
//! store, calls retried as a careful client would, and the checks made
//! from outside (the stream read back, fresh services to compare with).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jilin_bus::async_nats;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as risk;
use jilin_testkit::{NatsServer, TEST_NOW, free_port};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;

use super::WriterFigures;

mod up;
pub use up::JilinUp;

/// How long the checker waits for the system to settle.
const SETTLE: Duration = Duration::from_secs(120);

/// A service binary run as a process of its own.
pub struct Binary {
    pub name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    log: PathBuf,
    child: Option<Child>,
    pub kills: u32,
}

impl Binary {
    fn new(name: &'static str, args: Vec<String>, log: PathBuf) -> Self {
        Self {
            name,
            args,
            env: Vec::new(),
            log,
            child: None,
            kills: 0,
        }
    }

    /// The binary, built next to the `jilin` binary the tests run
    /// (`make test-faults` builds them).
    fn path(&self) -> PathBuf {
        let path = std::path::Path::new(env!("CARGO_BIN_EXE_jilin")).with_file_name(self.name);
        assert!(
            path.exists(),
            "{} is not built: run `cargo build --bins` first (make test-faults does)",
            path.display()
        );
        path
    }

    /// Starts it, its output appended to its log.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the service's log");
        let child = Command::new(self.path())
            .args(&self.args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdout(Stdio::from(log.try_clone().expect("clone the log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the service");
        self.child = Some(child);
    }

    /// The binary with its system clock read from `clock_file` through
    /// libfaketime (an offset from real time, e.g. `+3d`, re-read at every
    /// call), and the service told to use the system clock. Monotonic time
    /// is left alone: it never jumps.
    fn with_jumping_clock(mut self, clock_file: &std::path::Path) -> Self {
        let library = ["/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/faketime"]
            .iter()
            .map(|dir| std::path::Path::new(dir).join("libfaketimeMT.so.1"))
            .find(|path| path.exists())
            .expect("libfaketime is not installed (make test-faults installs it)");
        self.env = vec![
            ("LD_PRELOAD", library.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE", clock_file.display().to_string()),
            ("FAKETIME_NO_CACHE", "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ];
        let clock = self
            .args
            .iter()
            .position(|arg| arg == "--clock")
            .expect("a --clock flag");
        self.args[clock + 1] = "system".into();
        self
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A registry binary alone on `port`, its store in `data`.
pub fn registry_binary(port: u16, data: &std::path::Path, nats_url: &str, log: PathBuf) -> Binary {
    Binary::new("jilin-registry", common_args(port, data, nats_url), log)
}

/// A channel to the service on `port`, once it serves.
pub async fn serving_channel(port: u16) -> Channel {
    wait_serving(port).await;
    lazy_channel(port)
}

/// The flags every service gets: plaintext, no tokens, the tests' clock.
fn common_args(port: u16, data: &std::path::Path, nats_url: &str) -> Vec<String> {
    [
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &data.display().to_string(),
        "--nats-url",
        nats_url,
        "--clock",
        TEST_NOW,
        "--insecure-no-auth",
        "--insecure-plaintext",
    ]
    .map(String::from)
    .to_vec()
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// A channel that reconnects by itself after a restart.
fn lazy_channel(port: u16) -> Channel {
    Endpoint::from_shared(url(port))
        .expect("a valid address")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .connect_lazy()
}

/// The system under test: NATS and the three services, each its own
/// process, registry first.
pub struct Cluster {
    pub nats: NatsServer,
    pub services: Vec<Binary>,
    ports: [u16; 3],
    dir: tempfile::TempDir,
    clock_file: PathBuf,
}

/// One registry change on the stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKey {
    Project(String, i64),
    Report((String, String, i64)),
}

impl Cluster {
    pub async fn start() -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let clock_file = dir.path().join("clock");
        std::fs::write(&clock_file, "+0d").unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let [registry, indicators, risk] = ports;
        let mut services = vec![
            Binary::new(
                "jilin-registry",
                common_args(registry, &dir.path().join("registry"), &nats.url()),
                dir.path().join("registry.log"),
            )
            .with_jumping_clock(&clock_file),
            Binary::new(
                "jilin-indicators",
                [
                    common_args(indicators, &dir.path().join("indicators"), &nats.url()),
                    vec!["--registry-url".into(), url(registry)],
                ]
                .concat(),
                dir.path().join("indicators.log"),
            )
            .with_jumping_clock(&clock_file),
            risk_binary(&dir, "jilin-risk", risk, ports, &nats.url()),
        ];
        for service in &mut services {
            service.start();
        }
        for port in ports {
            wait_serving(port).await;
        }
        Self {
            nats,
            services,
            ports,
            dir,
            clock_file,
        }
    }

    /// Sets the registry's and the indicator service's system clock to
    /// real time plus `days` (negative: back).
    pub fn set_clock_offset(&self, days: i64) {
        std::fs::write(&self.clock_file, format!("{days:+}d")).unwrap();
    }

    pub fn registry_channel(&self) -> Channel {
        lazy_channel(self.ports[0])
    }

    async fn nats_client(&self) -> async_nats::Client {
        async_nats::connect(self.nats.url()).await.unwrap()
    }

    /// Every event on JILIN_REGISTRY and how often it is there, once every
    /// one of `expected` is (the relays may still be catching up).
    pub async fn registry_events(
        &self,
        expected: &BTreeSet<(String, String, i64)>,
    ) -> BTreeMap<EventKey, usize> {
        registry_events(self.nats_client().await, expected).await
    }

    /// Waits until `consumers` have taken everything `stream` holds.
    async fn wait_consumed(&self, stream: &str, consumers: &[&str]) {
        let client = self.nats_client().await;
        for consumer in consumers {
            jilin_testkit::bus::wait_consumed(&client, stream, consumer, SETTLE).await;
        }
    }

    /// The risk service's notifications on JILIN_RISK once it is quiet:
    /// how many, and the (change sequence, subject) pairs published more
    /// than once. (A change goes to one or more subjects; pending changes
    /// and de-escalations are not notified at all, so a gap in the
    /// sequences is no loss.) Read before a fresh risk service publishes
    /// its own.
    pub async fn risk_notifications(&self) -> (usize, Vec<(i64, String)>) {
        use prost::Message;
        let jetstream = async_nats::jetstream::new(self.nats_client().await);
        wait_quiet(&jetstream, "JILIN_RISK").await;
        let mut counts: BTreeMap<(i64, String), usize> = BTreeMap::new();
        if let Ok(mut stream) = jetstream.get_stream("JILIN_RISK").await {
            let state = stream.info().await.unwrap().state.clone();
            for sequence in state.first_sequence..=state.last_sequence {
                let Ok(message) = stream.get_raw_message(sequence).await else {
                    continue;
                };
                let event = jilin_proto::events::v1::AlertChanged::decode(message.payload)
                    .expect("every event on JILIN_RISK decodes");
                let change = event.change.expect("an alert change");
                let key = (change.sequence, message.subject.to_string());
                *counts.entry(key).or_insert(0) += 1;
            }
        }
        let duplicated = counts
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(key, _)| key.clone())
            .collect();
        (counts.values().sum(), duplicated)
    }

    /// Names of the indicators whose series differ from those of a fresh
    /// indicator service that read the whole stream after the faults.
    pub async fn indicators_against_fresh(&self, year: i32) -> (usize, Vec<String>) {
        let port = free_port();
        let mut fresh = Binary::new(
            "jilin-indicators",
            [
                common_args(
                    port,
                    &self.dir.path().join("fresh-indicators"),
                    &self.nats.url(),
                ),
                vec![
                    "--registry-url".into(),
                    url(self.ports[0]),
                    "--consumer-name".into(),
                    "fresh-indicators".into(),
                ],
            ]
            .concat(),
            self.dir.path().join("fresh-indicators.log"),
        )
        .with_jumping_clock(&self.clock_file);
        fresh.start();
        wait_serving(port).await;
        self.wait_consumed("JILIN_REGISTRY", &["jilin-indicators", "fresh-indicators"])
            .await;
        let mut survivor = indicators::indicator_service_client::IndicatorServiceClient::new(
            lazy_channel(self.ports[1]),
        );
        let mut rebuilt =
            indicators::indicator_service_client::IndicatorServiceClient::new(lazy_channel(port));
        let listed = survivor
            .list_indicators(indicators::ListIndicatorsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut differing = Vec::new();
        let compared = listed.indicators.len();
        for indicator in listed.indicators {
            let query = indicators::QueryIndicatorRequest {
                name: indicator.name.clone(),
                start_period: format!("{year}-01"),
                end_period: format!("{year}-{:02}", super::MONTHS),
                group_by: indicators::GroupBy::Region.into(),
                ..Default::default()
            };
            let a = survivor
                .query_indicator(query.clone())
                .await
                .unwrap()
                .into_inner();
            let b = rebuilt.query_indicator(query).await.unwrap().into_inner();
            if a.series != b.series {
                differing.push(indicator.name);
            }
        }
        (compared, differing)
    }

    /// The current risks (alerts not resolved) that differ between the
    /// risk service that lived through the faults and a fresh one that
    /// evaluated everything from the streams afterwards.
    pub async fn risks_against_fresh(&self) -> (usize, Vec<(String, i32, i32)>) {
        let jetstream = async_nats::jetstream::new(self.nats_client().await);
        wait_quiet(&jetstream, "JILIN_INDICATORS").await;
        let port = free_port();
        let mut fresh = risk_binary(&self.dir, "fresh-risk", port, self.ports, &self.nats.url());
        fresh.start();
        wait_serving(port).await;
        for stream in ["JILIN_REGISTRY", "JILIN_INDICATORS"] {
            self.wait_consumed(stream, &["jilin-risk", "fresh-risk"])
                .await;
        }
        // Two evaluation passes (one a second) after everything applied.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let survivor = current_risks(self.ports[2]).await;
        let rebuilt = current_risks(port).await;
        let differing = survivor.symmetric_difference(&rebuilt).cloned().collect();
        (survivor.len(), differing)
    }
}

/// A risk service binary; `consumer` names its durable consumers and data.
fn risk_binary(
    dir: &tempfile::TempDir,
    consumer: &str,
    port: u16,
    [registry, indicators, _]: [u16; 3],
    nats_url: &str,
) -> Binary {
    Binary::new(
        "jilin-risk",
        [
            common_args(port, &dir.path().join(consumer), nats_url),
            [
                "--registry-url",
                &url(registry),
                "--indicators-url",
                &url(indicators),
                "--consumer-name",
                consumer,
                "--evaluation-interval",
                "1",
            ]
            .map(String::from)
            .to_vec(),
        ]
        .concat(),
        dir.path().join(format!("{consumer}.log")),
    )
}

/// The alerts of the risk service on `port` that are not resolved.
async fn current_risks(port: u16) -> BTreeSet<(String, i32, i32)> {
    let mut client = risk::risk_service_client::RiskServiceClient::new(lazy_channel(port));
    let resolved = risk::alert::State::Resolved as i32;
    let mut risks = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_alerts(risk::ListAlertsRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        risks.extend(
            page.alerts
                .into_iter()
                .filter(|alert| alert.state != resolved)
                .map(|alert| (alert.name, alert.state, alert.severity)),
        );
        if page.next_page_token.is_empty() {
            return risks;
        }
        page_token = page.next_page_token;
    }
}

/// Waits until `stream` has not grown for three seconds.
async fn wait_quiet(jetstream: &async_nats::jetstream::Context, stream: &str) {
    let mut last = u64::MAX;
    loop {
        let now = match jetstream.get_stream(stream).await {
            Ok(mut stream) => stream
                .info()
                .await
                .map_or(0, |info| info.state.last_sequence),
            Err(_) => 0,
        };
        if now == last {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Every event on JILIN_REGISTRY and how often it is there, once every
/// one of `expected` is (the relay may still be catching up).
pub async fn registry_events(
    client: async_nats::Client,
    expected: &BTreeSet<(String, String, i64)>,
) -> BTreeMap<EventKey, usize> {
    let jetstream = async_nats::jetstream::new(client);
    let deadline = Instant::now() + SETTLE;
    loop {
        let events = read_registry_stream(&jetstream).await;
        let missing = expected
            .iter()
            .filter(|key| !events.contains_key(&EventKey::Report((*key).clone())))
            .count();
        if missing == 0 || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every registry change on the stream, counted.
async fn read_registry_stream(
    jetstream: &async_nats::jetstream::Context,
) -> BTreeMap<EventKey, usize> {
    let mut events = BTreeMap::new();
    let Ok(mut stream) = jetstream.get_stream("JILIN_REGISTRY").await else {
        return events;
    };
    let Ok(info) = stream.info().await else {
        return events;
    };
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    for sequence in first..=last {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let event_type = message
            .headers
            .get("ce-type")
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default();
        let change = jilin_proto::registry_change(&event_type, &message.payload)
            .expect("every event on JILIN_REGISTRY decodes");
        let project = change
            .project
            .name
            .trim_start_matches("projects/")
            .to_owned();
        let key = match change.report {
            Some(report) => EventKey::Report((project, report.period, report.revision)),
            None => EventKey::Project(project, change.project.revision),
        };
        *events.entry(key).or_insert(0) += 1;
    }
    events
}

/// Waits until the service on `port` answers its health check SERVING.
async fn wait_serving(port: u16) {
    wait_health(port, "", ServingStatus::Serving, SETTLE).await;
}

/// Waits until the health of `service` ("" for the whole server) on
/// `port` is `wanted`, for at most `within`.
pub async fn wait_health(port: u16, service: &str, wanted: ServingStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut health = tonic_health::pb::health_client::HealthClient::new(lazy_channel(port));
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await;
        if answer.is_ok_and(|reply| reply.into_inner().status() == wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the service on {port} never reported {wanted:?} for {service:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the writers call through: a plain channel, or one whose calls
/// carry a token.
pub trait Caller:
    jilin_testkit::registry::Transport<Future: Send> + Clone + Send + Sync + 'static
{
}

impl<T> Caller for T where
    T: jilin_testkit::registry::Transport<Future: Send> + Clone + Send + Sync + 'static
{
}

/// Whether a call that failed this way may be retried as it was.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
            | Code::Internal
    )
}

/// `call` until it succeeds, retrying what a crash or a restart causes.
pub async fn retried<T, F, Fut>(figures: &WriterFigures, what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let deadline = Instant::now() + SETTLE;
    loop {
        figures.calls.fetch_add(1, Ordering::Relaxed);
        match call().await {
            Ok(reply) => return reply.into_inner(),
            Err(status) if retryable(status.code()) && Instant::now() < deadline => {
                figures.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("{what} failed for good: {status:?}"),
        }
    }
}

/// Moves `name` to `status`, retried; a retry finding it already there
/// (the first attempt committed, its answer lost) is done.
pub async fn transition<T: Caller>(
    client: &registry::registry_service_client::RegistryServiceClient<T>,
    figures: &WriterFigures,
    name: &str,
    status: registry::project::Status,
) {
    let deadline = Instant::now() + SETTLE;
    loop {
        figures.calls.fetch_add(1, Ordering::Relaxed);
        let request = registry::TransitionProjectRequest {
            name: name.into(),
            status: status.into(),
            reason: "fault suite".into(),
            ..Default::default()
        };
        match client.clone().transition_project(request).await {
            Ok(_) => return,
            Err(failed) if failed.code() == Code::FailedPrecondition => {
                let project = retried(figures, "get", || {
                    let mut client = client.clone();
                    let name = name.to_owned();
                    async move {
                        client
                            .get_project(registry::GetProjectRequest { name })
                            .await
                    }
                })
                .await;
                assert_eq!(project.status, status as i32, "{name}: {failed:?}");
                return;
            }
            Err(failed) if retryable(failed.code()) && Instant::now() < deadline => {
                figures.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(failed) => panic!("transition failed for good: {failed:?}"),
        }
    }
}
