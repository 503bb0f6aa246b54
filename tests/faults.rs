//! The fault suite (`make test-faults`; `make test` leaves it out): the
//! three service binaries and a nats-server run as separate processes.
//! Writers report progress, retrying with the same request ids, while a
//! seeded schedule SIGKILLs each service and the NATS server at random
//! moments and restarts them, and moves the registry's and the indicator
//! service's system clock (libfaketime) forward and back. Then a checker that is not part of the system
//! proves:
//! - every acknowledged write reads back as acknowledged;
//! - every registry change is on JILIN_REGISTRY exactly once per revision;
//! - the indicator values equal a fresh indicator service's, built from the
//!   stream alone;
//! - the current risks equal a fresh risk service's, evaluated from scratch;
//! - no alert change is notified twice on a subject of JILIN_RISK.
//!
//! After the random faults, NATS stays away for `FAULT_NATS_AWAY` seconds
//! (60) while the writers go on. It prints its figures. `FAULT_SEED`
//! replays a schedule (the seed is printed); `FAULT_SECONDS` sets how long
//! the random faults go on (45).
//!
//! A second test fills a registry's disk (a 2 MB tmpfs; the suite runs as
//! root): writes are refused RESOURCE_EXHAUSTED with a clear message, and
//! with room again everything acknowledged is there, whole. A third SIGKILLs
//! `jilin up` together with its nats-server three times under writes: every
//! acknowledged report reads back, each revision on the stream exactly once.

mod faults_kit;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults_kit::{Caller, Cluster, retried};
use jilin_proto::registry::v1 as registry;
use jilin_testkit::TEST_NOW;
use rand::{Rng, SeedableRng};
use registry::registry_service_client::RegistryServiceClient;
use tonic_health::pb::health_check_response::ServingStatus;

/// Months each project reports, January to October of TEST_NOW's year.
const MONTHS: u8 = 10;
/// Concurrent writers.
const WRITERS: usize = 4;
/// A writer's pause after each report: about 150 writes a second in all,
/// enough load for the faults to land mid-write, little enough for the
/// checks to stay short.
const PACE: Duration = Duration::from_millis(25);

/// What the writers were told was stored: each report's latest
/// acknowledged revision and output, and every (project, period, revision)
/// acknowledged on the way.
#[derive(Default)]
struct Acknowledged {
    reports: BTreeMap<(String, String), (i64, i64)>,
    revisions: BTreeSet<(String, String, i64)>,
    projects: BTreeSet<String>,
}

/// How the writers fared.
#[derive(Default)]
struct WriterFigures {
    calls: AtomicU64,
    retries: AtomicU64,
}

fn report(period: &str, month: u8, output: i64) -> registry::ProgressReport {
    registry::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 10_000_000 + i64::from(month),
        output_value_yuan: output,
        value_added_yuan: output / 4,
        energy_kgce: 1_000 + i64::from(month),
        employment: 100,
        rd_spend_yuan: 50_000,
        export_value_yuan: 0,
        physical_progress_percent: i32::from(month) * 5,
        ..Default::default()
    }
}

/// Writers going on until stopped, one project at a time each, and what
/// they were told.
struct Writers {
    acknowledged: Arc<Mutex<Acknowledged>>,
    figures: Arc<WriterFigures>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    /// [`WRITERS`] writers, each with a client from `client`, naming their
    /// projects `{prefix}{writer}-p{n}`.
    fn start<T: Caller>(prefix: &str, client: impl Fn() -> RegistryServiceClient<T>) -> Self {
        let year: i32 = TEST_NOW[..4].parse().unwrap();
        let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
        let figures = Arc::new(WriterFigures::default());
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..WRITERS)
            .map(|writer| {
                let (client, prefix) = (client(), format!("{prefix}{writer}"));
                let (acknowledged, figures, stop) =
                    (acknowledged.clone(), figures.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut project = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("{prefix}-p{project:03}");
                        write_project(&client, &id, year, &acknowledged, &figures).await;
                        project += 1;
                    }
                })
            })
            .collect();
        Self {
            acknowledged,
            figures,
            stop,
            tasks,
        }
    }

    /// Stops them once their projects are done; what they were told.
    async fn stop(self) -> (Acknowledged, Arc<WriterFigures>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let acknowledged = std::mem::take(&mut *self.acknowledged.lock().unwrap());
        (acknowledged, self.figures)
    }
}

/// Events of acknowledged revisions that are on the stream more than once,
/// and acknowledged revisions that are not on it.
fn stream_faults(
    events: &BTreeMap<faults_kit::EventKey, usize>,
    acknowledged: &Acknowledged,
) -> (Vec<faults_kit::EventKey>, Vec<(String, String, i64)>) {
    let duplicated = events
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(key, _)| key.clone())
        .collect();
    let without_event = acknowledged
        .revisions
        .iter()
        .filter(|revision| !events.contains_key(&faults_kit::EventKey::Report((*revision).clone())))
        .cloned()
        .collect();
    (duplicated, without_event)
}

/// The acknowledged reports that do not read back as acknowledged.
async fn misread<T: Caller>(
    client: &RegistryServiceClient<T>,
    acknowledged: &Acknowledged,
    figures: &WriterFigures,
) -> Vec<String> {
    let mut wrong_reads = Vec::new();
    for ((project, period), (revision, output)) in &acknowledged.reports {
        let name = format!("projects/{project}/reports/{period}");
        let stored = retried(figures, "read", || {
            let (mut client, name) = (client.clone(), name.clone());
            async move {
                client
                    .get_progress_report(registry::GetProgressReportRequest { name })
                    .await
            }
        })
        .await;
        if (stored.revision, stored.output_value_yuan) != (*revision, *output) {
            wrong_reads.push(name);
        }
    }
    wrong_reads
}

/// Creates one project, starts it, reports its months and revises one,
/// every call retried until acknowledged.
async fn write_project<T: Caller>(
    client: &RegistryServiceClient<T>,
    id: &str,
    year: i32,
    acknowledged: &Mutex<Acknowledged>,
    figures: &WriterFigures,
) {
    let name = format!("projects/{id}");
    retried(figures, "create", || {
        let mut client = client.clone();
        async move {
            client
                .create_project(registry::CreateProjectRequest {
                    project_id: id.into(),
                    project: Some(jilin_testkit::registry::paint_shop()),
                    request_id: format!("create-{id}"),
                })
                .await
        }
    })
    .await;
    acknowledged.lock().unwrap().projects.insert(id.to_owned());
    for status in [
        registry::project::Status::Approved,
        registry::project::Status::UnderConstruction,
    ] {
        faults_kit::transition(client, figures, &name, status).await;
    }
    let mut reports: Vec<(u8, i64)> = (1..=MONTHS)
        .map(|month| (month, 1_000_000 * i64::from(month)))
        .collect();
    // A revision of March, with a new output.
    reports.push((3, 3_500_000));
    for (month, output) in reports {
        let period = format!("{year}-{month:02}");
        let request_id = format!("{id}-{period}-{output}");
        let stored = retried(figures, "report", || {
            let (mut client, name) = (client.clone(), name.clone());
            let (report, request_id) = (report(&period, month, output), request_id.clone());
            async move {
                client
                    .report_progress(registry::ReportProgressRequest {
                        parent: name,
                        report: Some(report),
                        request_id,
                    })
                    .await
            }
        })
        .await;
        {
            let mut acknowledged = acknowledged.lock().unwrap();
            acknowledged
                .revisions
                .insert((id.to_owned(), period.clone(), stored.revision));
            acknowledged
                .reports
                .insert((id.to_owned(), period), (stored.revision, output));
        }
        tokio::time::sleep(PACE).await;
    }
}

fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the fault suite: make test-faults"]
async fn nothing_acknowledged_is_lost_duplicated_or_wrong_under_faults() {
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    let seconds = seconds_from_env("FAULT_SECONDS", 45);
    let nats_away = seconds_from_env("FAULT_NATS_AWAY", 60);
    println!("fault suite: FAULT_SEED={seed} FAULT_SECONDS={seconds} FAULT_NATS_AWAY={nats_away}");
    let year: i32 = TEST_NOW[..4].parse().unwrap();
    let mut cluster = Cluster::start().await;

    // Writers go on until the faults end, one project at a time.
    let writers = Writers::start("w", || {
        RegistryServiceClient::new(cluster.registry_channel())
    });

    // The faults: a seeded schedule of SIGKILLs and restarts.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    let mut nats_restarts = 0;
    let mut clock_jumps = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..3000))).await;
        let down_for = Duration::from_millis(rng.random_range(0..2000));
        match rng.random_range(0..5) {
            4 => {
                // The clock jumps, forward or back, within the request-id
                // retention (a week): see the note on retention.
                let days = rng.random_range(-3..=5);
                cluster.set_clock_offset(days);
                clock_jumps.push(days);
            }
            3 => {
                cluster.nats.stop();
                tokio::time::sleep(down_for).await;
                cluster.nats.restart().await;
                nats_restarts += 1;
            }
            index => {
                let service = &mut cluster.services[index];
                service.kill();
                tokio::time::sleep(down_for).await;
                service.start();
            }
        }
    }
    // NATS away for a long while: writes go on into the outboxes.
    cluster.nats.stop();
    tokio::time::sleep(Duration::from_secs(nats_away)).await;
    cluster.nats.restart().await;
    nats_restarts += 1;
    let (acknowledged, figures) = writers.stop().await;
    let faults_took = started.elapsed();

    // 1. Every acknowledged report reads back as acknowledged.
    let client = RegistryServiceClient::new(cluster.registry_channel());
    let wrong_reads = misread(&client, &acknowledged, &figures).await;
    let mut listed = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = retried(&figures, "list", || {
            let (mut client, page_token) = (client.clone(), page_token.clone());
            async move {
                client
                    .list_projects(registry::ListProjectsRequest {
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            }
        })
        .await;
        listed.extend(
            page.projects
                .iter()
                .map(|project| project.name.trim_start_matches("projects/").to_owned()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let lost_projects: Vec<_> = acknowledged.projects.difference(&listed).collect();

    // 2. Every acknowledged revision on the stream, exactly once.
    let events = cluster.registry_events(&acknowledged.revisions).await;
    let (duplicated, without_event) = stream_faults(&events, &acknowledged);

    // 3 and 4. The indicators and the risks equal fresh services' that
    // built everything from the streams after the faults.
    let (notifications, notified_twice) = cluster.risk_notifications().await;
    let (indicators_compared, indicator_mismatches) = cluster.indicators_against_fresh(year).await;
    let (risks_compared, risk_mismatches) = cluster.risks_against_fresh().await;

    let kills: Vec<String> = cluster
        .services
        .iter()
        .map(|service| format!("{} {}", service.name, service.kills))
        .collect();
    println!(
        "fault suite figures (seed {seed}): {:.0} s of faults, NATS away {nats_away} s at the end; SIGKILLs: {}; NATS restarts {nats_restarts}; clock jumps (days from real time) {clock_jumps:?}",
        faults_took.as_secs_f64(),
        kills.join(", ")
    );
    println!(
        "  writes: {} projects, {} report revisions acknowledged; {} calls, {} retried",
        acknowledged.projects.len(),
        acknowledged.revisions.len(),
        figures.calls.load(Ordering::Relaxed),
        figures.retries.load(Ordering::Relaxed)
    );
    println!(
        "  lost: {} projects, {} reports without their event; duplicated events: {}; wrong reads: {}",
        lost_projects.len(),
        without_event.len(),
        duplicated.len(),
        wrong_reads.len()
    );
    println!(
        "  indicators differing from a recomputation: {} of {indicators_compared}; \
         risks differing from a re-evaluation: {} (of {risks_compared} current)",
        indicator_mismatches.len(),
        risk_mismatches.len()
    );
    assert!(lost_projects.is_empty(), "lost projects: {lost_projects:?}");
    assert!(without_event.is_empty(), "without event: {without_event:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert!(wrong_reads.is_empty(), "wrong reads: {wrong_reads:?}");
    println!(
        "  risk notifications: {notifications}; sent twice: {}",
        notified_twice.len()
    );
    assert!(notified_twice.is_empty(), "twice: {notified_twice:?}");
    assert!(indicator_mismatches.is_empty(), "{indicator_mismatches:#?}");
    assert!(risk_mismatches.is_empty(), "{risk_mismatches:#?}");
    assert!(
        acknowledged.revisions.len() > 100 && risks_compared > 0,
        "too little was written, or judged, to prove anything"
    );
}

/// Runs `command` (mount), which must succeed.
fn run(command: &[&str]) {
    let status = std::process::Command::new(command[0])
        .args(&command[1..])
        .status()
        .expect("run the command");
    assert!(
        status.success(),
        "{command:?} failed (the fault suite runs as root)"
    );
}

/// A tmpfs mounted for a test, unmounted when dropped (even on failure).
struct Mounted(String);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l", &self.0])
            .status();
    }
}

#[tokio::test]
#[ignore = "the fault suite: make test-faults"]
async fn a_full_disk_refuses_writes_clearly_and_loses_nothing() {
    let nats = jilin_testkit::NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let disk_path = disk.display().to_string();
    run(&["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", &disk_path]);
    let _mounted = Mounted(disk_path.clone());
    let port = jilin_testkit::free_port();
    let mut registry = faults_kit::registry_binary(
        port,
        &disk.join("registry"),
        &nats.url(),
        dir.path().join("registry.log"),
    );
    registry.start();
    let mut client = RegistryServiceClient::new(faults_kit::serving_channel(port).await);

    // Write until the disk is full.
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for index in 0..20_000 {
        let mut project = jilin_testkit::registry::paint_shop();
        project.description = "x".repeat(2000);
        let created = client
            .create_project(registry::CreateProjectRequest {
                project_id: format!("p{index:05}"),
                project: Some(project),
                request_id: String::new(),
            })
            .await;
        match created {
            Ok(project) => acknowledged.push(project.into_inner()),
            Err(status) => {
                refusal = Some(status);
                break;
            }
        }
    }
    let refusal = refusal.expect("the disk never filled");
    println!(
        "full disk: {} projects acknowledged, then {:?}: {}",
        acknowledged.len(),
        refusal.code(),
        refusal.message()
    );
    assert_eq!(
        refusal.code(),
        tonic::Code::ResourceExhausted,
        "{refusal:?}"
    );
    assert!(
        refusal.message().contains("the disk is full"),
        "not a clear refusal: {refusal:?}"
    );
    let refused = format!("projects/p{:05}", acknowledged.len());
    // The store takes no more writes until a restart: health says so, for
    // the orchestrator, while reads still answer.
    faults_kit::wait_health(
        port,
        "jilin.registry.v1.RegistryService",
        ServingStatus::NotServing,
        Duration::from_secs(10),
    )
    .await;
    let first = acknowledged.first().expect("some writes went through");
    let read = client
        .get_project(registry::GetProjectRequest {
            name: first.name.clone(),
        })
        .await;
    assert!(read.is_ok(), "reads answer while NOT_SERVING: {read:?}");

    // More room, a restart: everything acknowledged is there, whole.
    registry.kill();
    run(&["mount", "-o", "remount,size=64m", &disk_path]);
    registry.start();
    let mut client = RegistryServiceClient::new(faults_kit::serving_channel(port).await);
    for project in &acknowledged {
        let stored = client
            .get_project(registry::GetProjectRequest {
                name: project.name.clone(),
            })
            .await
            .expect("an acknowledged project is readable")
            .into_inner();
        assert_eq!(&stored, project);
    }
    // The refused write was not acknowledged: it is there whole, or not.
    let after_refusal = client
        .get_project(registry::GetProjectRequest { name: refused })
        .await;
    match after_refusal {
        Ok(project) => assert_eq!(project.into_inner().description, "x".repeat(2000)),
        Err(status) => assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}"),
    }
    let created = client
        .create_project(registry::CreateProjectRequest {
            project_id: "after".into(),
            project: Some(jilin_testkit::registry::paint_shop()),
            request_id: String::new(),
        })
        .await;
    assert!(created.is_ok(), "writes resume with room: {created:?}");
    registry.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the fault suite: make test-faults"]
async fn jilin_up_sigkilled_with_its_nats_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = faults_kit::JilinUp::new(dir.path().join("data"));
    up.start().await;
    let writers = Writers::start("up", || up.registry());
    // The machine goes down three times, writes in flight.
    for pause in [3, 2, 4] {
        tokio::time::sleep(Duration::from_secs(pause)).await;
        up.kill();
        up.start().await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (acknowledged, figures) = writers.stop().await;
    let wrong_reads = misread(&up.registry(), &acknowledged, &figures).await;
    let events = faults_kit::registry_events(up.watcher().await, &acknowledged.revisions).await;
    let (duplicated, without_event) = stream_faults(&events, &acknowledged);
    println!(
        "jilin up SIGKILLed {} times with its NATS: {} report revisions acknowledged, {} retried calls; \
         wrong reads {}, without event {}, duplicated events {}",
        up.kills,
        acknowledged.revisions.len(),
        figures.retries.load(Ordering::Relaxed),
        wrong_reads.len(),
        without_event.len(),
        duplicated.len()
    );
    assert!(wrong_reads.is_empty(), "wrong reads: {wrong_reads:?}");
    assert!(without_event.is_empty(), "without event: {without_event:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert!(acknowledged.revisions.len() > 100, "too little was written");
}
