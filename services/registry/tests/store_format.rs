//! A store the build does not understand is refused before anything is
//! served: the real binary, on a store in a newer format or of another
//! service, exits non-zero and says why and what to do. A store of the
//! format before this build's is upgraded on start, losing nothing.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use jilin_registry::STORE_LAYOUT as LAYOUT;
use jilin_store::{Layout, Store};
use jilin_testkit::NatsServer;

/// Runs the registry binary on `data_dir` until it exits (it must, by
/// itself, within a minute).
fn run_registry(data_dir: &std::path::Path, nats_url: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jilin-registry"))
        .args(["--listen", "127.0.0.1:0"])
        .args(["--insecure-no-auth", "--insecure-plaintext"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--nats-url", nats_url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start jilin-registry");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the registry served a store it should have refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Leaves a store laid out as `layout` in `dir`.
fn written_as(dir: &std::path::Path, layout: &Layout) {
    drop(Store::open(dir, layout).expect("the store opens"));
}

#[tokio::test]
async fn stores_of_a_newer_format_or_another_service_are_refused_clearly() {
    let nats = NatsServer::start().await;
    let newer = tempfile::tempdir().unwrap();
    written_as(
        newer.path(),
        &Layout {
            version: LAYOUT.version + 1,
            ..LAYOUT
        },
    );
    let foreign = tempfile::tempdir().unwrap();
    written_as(
        foreign.path(),
        &Layout {
            kind: "risk",
            ..LAYOUT
        },
    );
    for (dir, says) in [
        (
            newer.path(),
            "written by a newer Jilin; this build reads format 2 only",
        ),
        (foreign.path(), "holds a risk store, not a registry store"),
    ] {
        let output = run_registry(dir, &nats.url());
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{said}");
        assert!(said.contains("cannot open the store"), "{said}");
        assert!(said.contains(says), "{said}");
    }
    // This build's own store opens, and records this build's format.
    let own = tempfile::tempdir().unwrap();
    written_as(own.path(), &LAYOUT);
    let store = Store::open(own.path(), &LAYOUT).unwrap();
    assert_eq!(store.layout().version, LAYOUT.version);
}

/// A registry backup written by the release before store format 2, whose
/// values are JSON: `jilin up --demo --demo-projects 4` of commit 1150807,
/// stopped, then `jilin backup --data-dir … --service registry`.
const FORMAT_1_BACKUP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/registry-format-1.backup"
);

/// What that store holds: each project with its number of reports.
const FORMAT_1_PROJECTS: [(&str, usize); 4] = [
    ("automobile-000", 61),
    ("automobile-002", 53),
    ("automobile-003", 13),
    ("biotech-001", 64),
];

#[tokio::test]
async fn a_format_1_store_is_upgraded_on_start_and_serves_all_it_held() {
    use common::TestApp;

    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("registry");
    let restored = jilin_store::restore(FORMAT_1_BACKUP.as_ref(), &dir, &LAYOUT).unwrap();
    assert_eq!(restored.header.version, 1);
    let mut app = TestApp::spawn_on(data).await;
    serves_the_format_1_portfolio(&mut app).await;

    // It now records format 2: the release before it refuses it.
    let data = app.data.path().to_owned();
    app.registry.take().unwrap().shutdown().await.unwrap();
    let older = Layout {
        version: 1,
        ..LAYOUT
    };
    let refused = Store::open(&data.join("registry"), &older).err().unwrap();
    assert!(
        refused.to_string().contains("written by a newer Jilin"),
        "{refused}"
    );
}

/// The registry store of the last release that kept its state in sled
/// (de5e2b6): `jilin restore --service registry` of that build from
/// `registry-format-1.backup`, then that build's `jilin up` on it until
/// it served (which upgraded it to format 2 and replayed its events),
/// stopped with SIGINT. sled's own files, as it left them.
const SLED_STORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/registry-sled");

/// Copies the files of directory `from` into a new directory `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn a_store_the_sled_release_wrote_moves_to_fjall_on_start_and_serves_all_it_held() {
    use common::TestApp;

    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("registry");
    copy_dir(SLED_STORE.as_ref(), &dir);
    assert!(dir.join("db").exists() && dir.join("conf").exists());
    let mut app = TestApp::spawn_on(data).await;
    serves_the_format_1_portfolio(&mut app).await;
    assert!(!dir.join("db").exists(), "sled's files are removed");
    assert!(dir.join("keyspace").is_dir());

    // Restarted, it opens the fjall store it made and serves it all again.
    app.restart().await;
    serves_the_format_1_portfolio(&mut app).await;
}

/// Checks that `app` serves every project and report of
/// `registry-format-1.backup`, with their values.
async fn serves_the_format_1_portfolio(app: &mut common::TestApp) {
    use jilin_proto::registry::v1 as pb;

    let listed = app
        .client
        .list_projects(pb::ListProjectsRequest {
            page_size: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = listed.projects.iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<_> = FORMAT_1_PROJECTS
        .iter()
        .map(|(id, _)| format!("projects/{id}"))
        .collect();
    assert_eq!(ids, expected);
    let first = &listed.projects[0];
    assert_eq!(first.display_name, "Automobile project 0");
    assert_eq!(first.planned_investment_yuan, 5_086_327_979);

    for (id, count) in FORMAT_1_PROJECTS {
        let mut reports = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = app
                .client
                .list_progress_reports(pb::ListProgressReportsRequest {
                    parent: format!("projects/{id}"),
                    page_size: 50,
                    page_token,
                })
                .await
                .unwrap()
                .into_inner();
            reports.extend(page.reports);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(reports.len(), count, "reports of {id}");
    }
    let report = app
        .client
        .get_progress_report(pb::GetProgressReportRequest {
            name: "projects/automobile-000/reports/2017-07".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            report.investment_completed_yuan,
            report.output_value_yuan,
            report.employment,
            report.physical_progress_percent,
            report.revision
        ),
        (226_049_139, 20_949_341, 50, 4, 1)
    );
    assert_eq!(
        report.submit_time.map(|t| (t.seconds, t.nanos)),
        Some((1_796_340_831, 615_649_710))
    );
}
