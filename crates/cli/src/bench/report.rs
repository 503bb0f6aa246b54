//! The harness's figures: gathered per scenario, printed as a table for
//! people or one JSON document for scripts. Latencies in milliseconds;
//! call throughputs also as a ratio to the health Check of the same run.

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::alerts::AlertLatency;
use super::bulk::BulkLoad;
use super::load::{Mode, Recorded};

/// Everything one `jilin bench` run measured.
pub struct Results {
    command: String,
    calls: Vec<Value>,
    alerts: Vec<Value>,
    bulk: Vec<Value>,
}

/// The usual quantiles of a histogram of microseconds, in milliseconds.
fn quantiles(histogram: &Histogram<u64>) -> Value {
    let ms = |micros: u64| micros as f64 / 1000.0;
    json!({
        "p50_ms": ms(histogram.value_at_quantile(0.50)),
        "p90_ms": ms(histogram.value_at_quantile(0.90)),
        "p99_ms": ms(histogram.value_at_quantile(0.99)),
        "p999_ms": ms(histogram.value_at_quantile(0.999)),
        "max_ms": ms(histogram.max()),
    })
}

impl Results {
    pub fn new(command: String) -> Self {
        Self {
            command,
            calls: Vec::new(),
            alerts: Vec::new(),
            bulk: Vec::new(),
        }
    }

    pub fn calls(&mut self, scenario: &str, mode: Mode, recorded: Recorded) {
        let (mode, load) = match mode {
            Mode::Closed { clients } => ("closed", json!(clients)),
            Mode::Open { rate } => ("open", json!(rate)),
        };
        self.calls.push(json!({
            "scenario": scenario,
            "mode": mode,
            "clients_or_rate": load,
            "seconds": recorded.elapsed.as_secs_f64(),
            "calls": recorded.latency.len(),
            "errors": recorded.errors,
            "dropped": recorded.dropped,
            "first_error": recorded.first_error,
            "calls_per_second": (recorded.throughput() * 10.0).round() / 10.0,
            "latency": quantiles(&recorded.latency),
        }));
    }

    pub fn alert(&mut self, measured: AlertLatency) {
        for (heard_on, hearing) in [
            ("nats", &measured.nats),
            ("watch_alerts", &measured.watch),
            ("webhook", &measured.webhook),
        ] {
            let slowest: Vec<Value> = hearing
                .slowest
                .iter()
                .map(|(took, acked)| {
                    json!({
                        "ms": took.as_secs_f64() * 1000.0,
                        "acked_at": acked.format(&Rfc3339).unwrap_or_default(),
                    })
                })
                .collect();
            self.alerts.push(json!({
                "heard_on": heard_on,
                "flips": measured.flips,
                "heard": hearing.latency.len(),
                "not_heard_within_5s": hearing.missing,
                "report_errors": measured.report_errors,
                "latency": quantiles(&hearing.latency),
                "slowest": slowest,
            }));
        }
        if let Some(last) = self.alerts.last_mut() {
            last["posts"] = json!(measured.webhook_posts);
        }
        if let Some((rate, background)) = measured.background {
            self.calls("report (background)", Mode::Open { rate }, background);
        }
    }

    pub fn bulk(&mut self, loaded: BulkLoad) {
        let disk: serde_json::Map<String, Value> = loaded
            .disk
            .iter()
            .map(|(service, bytes)| (service.clone(), json!(bytes)))
            .collect();
        let registry_bytes = loaded
            .disk
            .iter()
            .find(|(service, _)| service == "registry")
            .map(|(_, bytes)| *bytes as f64 / loaded.reports.max(1) as f64);
        self.bulk.push(json!({
            "projects": loaded.projects,
            "projects_per_second": (loaded.projects as f64 / loaded.project_seconds).round(),
            "reports": loaded.reports,
            "reports_per_second": (loaded.reports as f64 / loaded.report_seconds).round(),
            "batch_latency": quantiles(&loaded.batch_latency),
            "disk_bytes": disk,
            "registry_bytes_per_report": registry_bytes.map(f64::round),
        }));
    }

    fn health_rate(&self) -> Option<f64> {
        self.calls
            .iter()
            .find(|row| row["scenario"] == "health")
            .and_then(|row| row["calls_per_second"].as_f64())
    }

    pub fn print(mut self, as_json: bool) {
        if let Some(health) = self.health_rate() {
            for row in &mut self.calls {
                let rate = row["calls_per_second"].as_f64().unwrap_or(0.0);
                row["ratio_to_health"] = json!((rate / health * 100.0).round() / 100.0);
            }
        }
        let document = json!({
            "command": format!("jilin {}", self.command),
            "date": time::OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            "cpus": std::thread::available_parallelism().map_or(0, usize::from),
            "calls": self.calls,
            "alerts": self.alerts,
            "bulk": self.bulk,
        });
        if as_json {
            println!("{document}");
        } else {
            print_tables(&document);
        }
    }
}

fn print_tables(document: &Value) {
    let text = |value: &Value| match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let latency = |row: &Value, key: &str| {
        ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"]
            .iter()
            .map(|q| text(&row[key][*q]))
            .collect::<Vec<_>>()
    };
    println!(
        "{} on {} CPUs, {}",
        text(&document["command"]),
        document["cpus"],
        text(&document["date"])
    );
    let rows = |key: &str| document[key].as_array().cloned().unwrap_or_default();
    if !rows("calls").is_empty() {
        let table = crate::output::table(
            &[
                "SCENARIO",
                "LOAD",
                "CALLS",
                "ERRORS",
                "CALLS/S",
                "÷ HEALTH",
                "P50 MS",
                "P90",
                "P99",
                "P99.9",
                "MAX",
            ],
            rows("calls").iter().map(|row| {
                let mut cells = vec![
                    text(&row["scenario"]),
                    format!("{} {}", text(&row["mode"]), text(&row["clients_or_rate"])),
                    text(&row["calls"]),
                    format!(
                        "{}",
                        row["errors"].as_u64().unwrap_or(0) + row["dropped"].as_u64().unwrap_or(0)
                    ),
                    text(&row["calls_per_second"]),
                    text(&row["ratio_to_health"]),
                ];
                cells.extend(latency(row, "latency"));
                cells
            }),
        );
        println!("{table}");
        for row in rows("calls")
            .iter()
            .filter(|row| !row["first_error"].is_null())
        {
            println!(
                "  {} first error: {}",
                text(&row["scenario"]),
                text(&row["first_error"])
            );
        }
    }
    if !rows("alerts").is_empty() {
        let table = crate::output::table(
            &[
                "REPORT → ALERT",
                "FLIPS",
                "HEARD",
                "NOT IN 5 S",
                "P50 MS",
                "P90",
                "P99",
                "P99.9",
                "MAX",
            ],
            rows("alerts").iter().map(|row| {
                let mut cells = vec![
                    text(&row["heard_on"]),
                    text(&row["flips"]),
                    text(&row["heard"]),
                    text(&row["not_heard_within_5s"]),
                ];
                cells.extend(latency(row, "latency"));
                cells
            }),
        );
        println!("{table}");
        for row in rows("alerts") {
            let slowest: Vec<String> = row["slowest"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|flip| {
                    format!(
                        "{:.1} ms (acked {})",
                        flip["ms"].as_f64().unwrap_or(0.0),
                        text(&flip["acked_at"])
                    )
                })
                .collect();
            if !slowest.is_empty() {
                println!(
                    "  slowest on {}: {}",
                    text(&row["heard_on"]),
                    slowest.join(", ")
                );
            }
        }
    }
    for row in rows("bulk") {
        let disk = match row["disk_bytes"].as_object() {
            Some(stores) if !stores.is_empty() => {
                let each: Vec<String> = stores
                    .iter()
                    .map(|(store, bytes)| format!("{store} {bytes}"))
                    .collect();
                format!(
                    "disk bytes: {}, {} per report in the registry",
                    each.join(", "),
                    text(&row["registry_bytes_per_report"]),
                )
            }
            _ => "disk not measured (give --data-dir)".to_owned(),
        };
        println!(
            "bulk: {} projects at {}/s; {} reports at {}/s (batch p50 {} ms, p99 {} ms); {disk}",
            row["projects"],
            row["projects_per_second"],
            row["reports"],
            row["reports_per_second"],
            text(&row["batch_latency"]["p50_ms"]),
            text(&row["batch_latency"]["p99_ms"]),
        );
    }
}
