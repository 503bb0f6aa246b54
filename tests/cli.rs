//! The `jilin` binary as people and scripts use it: `--output json` is
//! JSON, tables line up, and a bad argument gets a clear message and a
//! non-zero exit, whether the CLI or the server refuses it.

mod common;

use std::process::Output;

use common::*;

/// Runs `jilin` against the system whose data (and development tokens)
/// are in `data_dir`, as a user in that directory would.
async fn jilin(data_dir: &std::path::Path, urls: &[String; 3], args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_jilin"))
        .env("JILIN_DATA_DIR", data_dir)
        .args([
            "--registry",
            &urls[0],
            "--indicators",
            &urls[1],
            "--risk",
            &urls[2],
        ])
        .args(args)
        .output()
        .await
        .expect("run jilin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn json_for_scripts_tables_for_people_and_clear_errors() {
    let running = start(12).await;
    let urls = urls(&running.system);

    let listed = jilin(
        running.data.path(),
        &urls,
        &["projects", "list", "--page-size", "100", "-o", "json"],
    )
    .await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
    assert_eq!(json["projects"].as_array().unwrap().len(), 12);
    assert_eq!(json["totalSize"], 12);

    let table = jilin(running.data.path(), &urls, &["catalog", "regions"]).await;
    assert!(table.status.success());
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "a header and nine prefectures");
    assert!(lines[0].contains("CODE") && lines[1].contains("220100"));
    let column = lines[0].find("NAME").unwrap();
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l[column..].starts_with(char::is_alphabetic)),
        "{text}"
    );

    let query = jilin(
        running.data.path(),
        &urls,
        &[
            "indicators",
            "query",
            "output_growth",
            "--start",
            "2025-01",
            "--end",
            "2025-12",
            "--group-by",
            "group",
            "-o",
            "json",
        ],
    )
    .await;
    assert!(query.status.success(), "{}", stderr(&query));
    let json: serde_json::Value = serde_json::from_str(&stdout(&query)).unwrap();
    assert!(json["series"].as_array().unwrap().len() >= 2);

    let rules = jilin(running.data.path(), &urls, &["rules", "list", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&rules)).unwrap();
    assert_eq!(json["rules"].as_array().unwrap().len(), 12);

    // A value the CLI itself refuses.
    let bad = jilin(
        running.data.path(),
        &urls,
        &[
            "projects",
            "transition",
            "x",
            "--to",
            "FLYING",
            "--reason",
            "r",
        ],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("`FLYING` is not a status"),
        "{}",
        stderr(&bad)
    );
    // A missing flag: clap's usage error.
    let missing = jilin(
        running.data.path(),
        &urls,
        &["projects", "create", "--display-name", "x"],
    )
    .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("--sector"),
        "{}",
        stderr(&missing)
    );
    // The server's field violations, in plain words.
    let refused = jilin(
        running.data.path(),
        &urls,
        &[
            "projects",
            "create",
            "--display-name",
            "Test",
            "--sector",
            "shipbuilding",
            "--region",
            "999999",
            "--agency",
            "jilin-drc",
            "--planned-investment=-5",
            "--start",
            "2026-01-01",
            "--end",
            "2025-01-01",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(message.starts_with("error: InvalidArgument"), "{message}");
    for field in [
        "project.sector",
        "project.region_code",
        "project.planned_investment_yuan",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    // Nothing listening: says so.
    let down = tokio::process::Command::new(env!("CARGO_BIN_EXE_jilin"))
        .args(["--registry", "http://127.0.0.1:9", "projects", "list"])
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stderr(&down).contains("cannot reach http://127.0.0.1:9"),
        "{}",
        stderr(&down)
    );
    // No NATS there: says so instead of watching in silence.
    let no_nats = tokio::process::Command::new(env!("CARGO_BIN_EXE_jilin"))
        .args([
            "alerts",
            "watch",
            "--nats",
            "--nats-url",
            "nats://127.0.0.1:9",
        ])
        .env("JILIN_DATA_DIR", running.data.path())
        .output()
        .await
        .unwrap();
    assert_eq!(no_nats.status.code(), Some(1), "{}", stderr(&no_nats));
    assert!(
        stderr(&no_nats).contains("cannot reach nats://127.0.0.1:9: no NATS server answered"),
        "{}",
        stderr(&no_nats)
    );
    // Without --nats-url: the NATS of the `jilin up` keeping its data there.
    let mut watcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_jilin"))
        .args(["alerts", "watch", "--nats"])
        .env("JILIN_DATA_DIR", running.data.path())
        .env_remove("NATS_URL")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
        watcher.stderr.take().unwrap(),
    ));
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .expect("the watcher says where it watches")
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some(format!("watching jilin.risk.> on {}", running.system.nats_url()).as_str())
    );
    watcher.kill().await.unwrap();
    running.system.shutdown().await;
}

#[tokio::test]
async fn reports_import_sends_a_csv_in_batches_and_stores_nothing_twice() {
    let running = start(12).await;
    let urls = urls(&running.system);
    let data = running.data.path();
    let json_of = |output: &Output| -> serde_json::Value {
        assert!(output.status.success(), "{}", stderr(output));
        serde_json::from_str(&stdout(output)).expect("JSON")
    };
    let listed = json_of(
        &jilin(
            data,
            &urls,
            &[
                "projects",
                "list",
                "--filter",
                "status = UNDER_CONSTRUCTION OR status = OPERATING",
                "-o",
                "json",
            ],
        )
        .await,
    );
    let mut rows = vec!["project,period,output_value,energy,progress".to_owned()];
    let mut latest = Vec::new();
    for project in listed["projects"].as_array().unwrap().iter().take(3) {
        let name = project["name"].as_str().unwrap().to_owned();
        let reports = json_of(&jilin(data, &urls, &["reports", "list", &name, "-o", "json"]).await);
        let last = reports["reports"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        let period = last["period"].as_str().unwrap().to_owned();
        rows.push(format!(
            "{name},{period},\"1,234,000\",5000,{}",
            int(&last["physicalProgressPercent"])
        ));
        latest.push((name, period, int(&last["revision"])));
    }
    assert_eq!(latest.len(), 3, "three projects that report");
    let file = data.join("month.csv");
    std::fs::write(&file, rows.join("\n")).unwrap();
    let file = file.to_str().unwrap();

    let imported = json_of(
        &jilin(
            data,
            &urls,
            &["reports", "import", file, "--batch-size", "2", "-o", "json"],
        )
        .await,
    );
    assert_eq!(imported["reports"], 3);
    assert_eq!(imported["batches"], 2);
    assert_eq!(
        imported["revisions"], 3,
        "each project had reported that month"
    );
    let again = json_of(
        &jilin(
            data,
            &urls,
            &["reports", "import", file, "--batch-size", "2", "-o", "json"],
        )
        .await,
    );
    assert_eq!(again, imported, "the same batches again: the first results");
    for (name, period, revision) in &latest {
        let report = json_of(&jilin(data, &urls, &["reports", "list", name, "-o", "json"]).await);
        let stored = report["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["period"] == period.as_str())
            .unwrap()
            .clone();
        assert_eq!(
            int(&stored["revision"]),
            revision + 1,
            "one revision, not two"
        );
        assert_eq!(stored["outputValueYuan"], "1234000");
    }

    std::fs::write(
        data.join("bad.csv"),
        "project,period,outputs\nx,2026-01,1\n",
    )
    .unwrap();
    let bad = jilin(
        data,
        &urls,
        &["reports", "import", data.join("bad.csv").to_str().unwrap()],
    )
    .await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("line 1: unknown column `outputs`")
            && stderr(&bad).contains("nothing was sent"),
        "{}",
        stderr(&bad)
    );
    running.system.shutdown().await;
}

#[tokio::test]
async fn receivers_routes_and_deliveries_are_managed_from_the_command_line() {
    let running = start(1).await;
    let urls = urls(&running.system);
    let data = running.data.path();
    let run = |args: &'static [&'static str]| jilin(data, &urls, args);

    let created = run(&[
        "receivers",
        "create",
        "county_desk",
        "--webhook",
        "http://127.0.0.1:9/hook",
        "--secret",
        "s3cret",
        "--deadline",
        "2h",
    ])
    .await;
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stdout(&created).contains("webhook (signed)"),
        "{}",
        stdout(&created)
    );
    let routed = run(&[
        "routes",
        "create",
        "changchun_critical",
        "--receiver",
        "county_desk",
        "--matcher",
        "region=220100",
        "--matcher",
        "severity=~critical|warning",
        "--group-by",
        "project",
        "--group-wait",
        "30s",
    ])
    .await;
    assert!(routed.status.success(), "{}", stderr(&routed));
    let listed = run(&["routes", "list", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
    let route = &json["routes"][0];
    assert_eq!(route["name"], "routes/changchun_critical");
    assert_eq!(route["receiver"], "receivers/county_desk");
    assert_eq!(route["matchers"][1]["operator"], "REGEX");
    assert_eq!(route["groupWait"], "30s");
    let receivers = run(&["receivers", "list", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&receivers)).expect("JSON");
    assert_eq!(json["receivers"][0]["deliveryDeadline"], "7200s");
    assert!(
        json["receivers"][0]["webhook"].get("secret").is_none(),
        "{json}"
    );

    let bad = run(&[
        "routes",
        "create",
        "bad_route",
        "--receiver",
        "county_desk",
        "--matcher",
        "region",
    ])
    .await;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("label=~regex"), "{}", stderr(&bad));
    let refused = run(&["receivers", "delete", "county_desk"]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("routes/changchun_critical"),
        "{}",
        stderr(&refused)
    );
    let inhibitions = run(&["inhibitions", "list"]).await;
    assert!(
        stdout(&inhibitions).contains("inhibitions/suspended_project"),
        "{}",
        stdout(&inhibitions)
    );
    let inhibited = run(&[
        "inhibitions",
        "create",
        "critical_mutes_warning",
        "--source",
        "severity=critical",
        "--target",
        "severity=warning",
        "--equal",
        "project",
    ])
    .await;
    assert!(inhibited.status.success(), "{}", stderr(&inhibited));
    let deliveries = run(&["deliveries", "list", "--state", "failed"]).await;
    assert!(deliveries.status.success(), "{}", stderr(&deliveries));
    running.system.shutdown().await;
}

/// An integer of proto JSON: a number, or a string for 64-bit ones; 0
/// when absent (the default is not written).
fn int(value: &serde_json::Value) -> i64 {
    match value {
        serde_json::Value::String(text) => text.parse().expect("an integer"),
        other => other.as_i64().unwrap_or(0),
    }
}

/// A port nothing listens on (bound, then released).

#[tokio::test]
async fn up_starts_its_own_nats_serves_and_stops_cleanly_on_ctrl_c() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let data = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let mut up = tokio::process::Command::new(env!("CARGO_BIN_EXE_jilin"))
        .args(["up", "--data-dir"])
        .arg(data.path())
        .args(["--nats-url", &format!("nats://127.0.0.1:{nats_port}")])
        .args([
            "--registry-listen",
            "127.0.0.1:0",
            "--indicators-listen",
            "127.0.0.1:0",
            "--risk-listen",
            "127.0.0.1:0",
            "--registry-metrics",
            "127.0.0.1:0",
            "--indicators-metrics",
            "127.0.0.1:0",
            "--risk-metrics",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .env("JILIN_AUDIT_LOG", data.path().join("audit.jsonl"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start jilin up");
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    let mut addresses = std::collections::BTreeMap::new();
    while addresses.len() < 3 {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("jilin up prints its addresses")
            .unwrap()
            .expect("a line");
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [service @ ("registry" | "indicators" | "risk"), address] = words.as_slice() {
            addresses.insert(service.to_string(), address.to_string());
        }
    }
    let urls = [
        addresses["registry"].clone(),
        addresses["indicators"].clone(),
        addresses["risk"].clone(),
    ];
    for url in &urls {
        let health = jilin(data.path(), &urls, &["health", url]).await;
        assert!(health.status.success(), "{}", stderr(&health));
        assert_eq!(stdout(&health).trim(), "SERVING");
    }
    let listed = jilin(data.path(), &urls, &["rules", "list"]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("schedule_lag"));
    // A bad token is refused, and the refusal is in the audit log's own
    // file, without the token.
    let refused = jilin(
        data.path(),
        &urls,
        &["--token", "not-a-jwt", "rules", "list"],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("Unauthenticated"),
        "{}",
        stderr(&refused)
    );
    let audit = std::fs::read_to_string(data.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("TOKEN_MALFORMED"), "{audit}");
    assert!(
        audit.contains("/jilin.risk.v1.RiskService/ListRules"),
        "{audit}"
    );
    assert!(!audit.contains("not-a-jwt"), "the token is never logged");
    for store in ["registry", "indicators", "risk", "nats"] {
        assert!(
            data.path().join(store).is_dir(),
            "{store} store under the data dir"
        );
    }

    // Ctrl-C: everything stops, the NATS server it started included.
    let pid = up.id().unwrap().to_string();
    let signalled = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(signalled.success());
    let status = tokio::time::timeout(PATIENCE, up.wait())
        .await
        .expect("stops in time")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("jilin stopped"), "{rest}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_err(),
        "the NATS server it started is gone"
    );
}
