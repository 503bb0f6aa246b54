//! `jilin reports import FILE.csv`: a month of progress for many projects
//! from a spreadsheet export, sent in BatchReportProgress calls.
//!
//! The header names the columns: `project` and `period` are required, the
//! measures (`investment`, `output_value`, `value_added`, `energy`,
//! `employment`, `rd_spend`, `export_value`, `progress`, as the flags of
//! `jilin reports submit`) default to 0. The whole file is checked before
//! anything is sent. Each batch is all or nothing and carries a request id
//! made from its own rows, so running the same import again after a
//! failure or a crash stores no batch twice.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use jilin_proto::registry::v1 as pb;
use pb::registry_service_client::RegistryServiceClient;
use sha2::{Digest, Sha256};

use super::{AuthedChannel, ClientError, Connection, Outcome, named};
use crate::output::describe_error;

/// Reports per call by default; the registry takes at most 1000.
pub const DEFAULT_BATCH: usize = 500;

/// One data row of the file: its line number and the request it makes.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub line: usize,
    pub request: pb::ReportProgressRequest,
}

const MEASURES: [&str; 8] = [
    "investment",
    "output_value",
    "value_added",
    "energy",
    "employment",
    "rd_spend",
    "export_value",
    "progress",
];

/// Every row of a CSV text, or every problem found in it (by line).
pub fn parse_rows(text: &str) -> Result<Vec<Row>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|err| vec![format!("line 1: {err}")])?
        .iter()
        .map(str::to_owned)
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let mut problems = Vec::new();
    for name in &header {
        if name != "project" && name != "period" && !MEASURES.contains(&name.as_str()) {
            problems.push(format!(
                "line 1: unknown column `{name}` (columns: project, period, {})",
                MEASURES.join(", ")
            ));
        }
    }
    let (Some(project), Some(period)) = (column("project"), column("period")) else {
        problems.push("line 1: the header must name the columns `project` and `period`".into());
        return Err(problems);
    };
    let measures = MEASURES.map(column);
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                problems.push(err.to_string());
                continue;
            }
        };
        let line = record.position().map_or(0, |at| at.line() as usize);
        let mut values = [0_i64; 8];
        for (value, (name, column)) in values.iter_mut().zip(MEASURES.iter().zip(measures)) {
            let text = column.and_then(|c| record.get(c)).unwrap_or("");
            match text {
                "" => {}
                text => match text.replace([',', '_'], "").parse() {
                    Ok(number) => *value = number,
                    Err(_) => {
                        problems.push(format!("line {line}: {name} `{text}` is not a number"))
                    }
                },
            }
        }
        let parent = named("projects", record.get(project).unwrap_or(""));
        let month = record.get(period).unwrap_or("").to_owned();
        if let Some(first) = seen.insert((parent.clone(), month.clone()), line) {
            problems.push(format!(
                "line {line}: {parent} {month} is already on line {first}; one report per project and month"
            ));
        }
        let [
            investment,
            output,
            value_added,
            energy,
            employment,
            rd,
            export,
            progress,
        ] = values;
        let report = pb::ProgressReport {
            period: month,
            investment_completed_yuan: investment,
            output_value_yuan: output,
            value_added_yuan: value_added,
            energy_kgce: energy,
            employment,
            rd_spend_yuan: rd,
            export_value_yuan: export,
            physical_progress_percent: i32::try_from(progress).unwrap_or(i32::MAX),
            ..Default::default()
        };
        rows.push(Row {
            line,
            request: pb::ReportProgressRequest {
                parent,
                report: Some(report),
                request_id: String::new(),
            },
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The request id of a batch: a digest of its rows, so the same rows sent
/// again are recognised as a retry.
pub fn batch_request_id(rows: &[Row]) -> String {
    let mut digest = Sha256::new();
    for row in rows {
        digest.update(prost::Message::encode_to_vec(&row.request));
        digest.update([0xff]);
    }
    let hash = digest.finalize();
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("import-{hex}")
}

/// `jilin reports import`.
pub async fn run(
    connection: &Connection,
    client: RegistryServiceClient<AuthedChannel>,
    file: &Path,
    batch_size: usize,
) -> Outcome {
    if !(1..=1000).contains(&batch_size) {
        return Err(ClientError::Usage(
            "--batch-size must be 1 to 1000 (the registry's limit per call)".into(),
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|err| ClientError::Usage(format!("cannot read {}: {err}", file.display())))?;
    let rows = parse_rows(&text).map_err(|problems| {
        ClientError::Usage(format!(
            "{} is not imported; nothing was sent:\n  {}",
            file.display(),
            problems.join("\n  ")
        ))
    })?;
    let bar = progress_bar(rows.len(), connection.json());
    let (mut submitted, mut revised) = (0, 0);
    for batch in rows.chunks(batch_size) {
        let request = pb::BatchReportProgressRequest {
            requests: batch.iter().map(|row| row.request.clone()).collect(),
            request_id: batch_request_id(batch),
        };
        let answer = super::through_backlog(|| {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.batch_report_progress(request).await }
        })
        .await;
        let reports = match answer {
            Ok(response) => response.into_inner().reports,
            Err(status) => {
                bar.abandon();
                return Err(ClientError::Usage(refused(
                    &status,
                    batch,
                    submitted + revised,
                )));
            }
        };
        for report in &reports {
            if report.revision > 1 {
                revised += 1;
            } else {
                submitted += 1;
            }
        }
        bar.inc(reports.len() as u64);
    }
    bar.finish_and_clear();
    let batches = rows.len().div_ceil(batch_size);
    if connection.json() {
        println!(
            "{}",
            serde_json::json!({"reports": rows.len(), "new": submitted, "revisions": revised, "batches": batches})
        );
    } else {
        println!(
            "imported {} reports from {} in {batches} batch(es): {submitted} new, {revised} revision(s)",
            rows.len(),
            file.display()
        );
    }
    Ok(())
}

/// What to tell the user when a batch is refused: the registry's words,
/// and which lines of the file its `requests[i]` are.
fn refused(status: &tonic::Status, batch: &[Row], stored: usize) -> String {
    let (first, last) = (batch[0].line, batch[batch.len() - 1].line);
    format!(
        "{}\nthe batch of lines {first}-{last} was refused and none of it stored \
         (requests[i] is line {first} + i); {stored} report(s) of earlier batches are stored. \
         Fix the file and run the import again: batches already stored are not stored twice.",
        describe_error(status)
    )
}

fn progress_bar(total: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} reports {per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_header_with_missing_measures_zero() {
        let text = "project,period,output_value,progress\n\
                    faw-1,2026-01,\"1,200,000\",40\n\
                    projects/faw-2,2026-01,,\n";
        let rows = parse_rows(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].request.parent, "projects/faw-1");
        let report = rows[0].request.report.as_ref().unwrap();
        assert_eq!(report.output_value_yuan, 1_200_000);
        assert_eq!(report.physical_progress_percent, 40);
        assert_eq!(rows[1].request.parent, "projects/faw-2");
        assert_eq!(
            rows[1].request.report.as_ref().unwrap().output_value_yuan,
            0
        );
    }

    #[test]
    fn every_problem_is_named_by_line() {
        let text = "project,period,output,energy\n\
                    a,2026-01,1,x\n\
                    a,2026-01,1,2\n";
        let problems = parse_rows(text).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 1: unknown column `output`"));
        assert!(problems[1].starts_with("line 2: energy `x`"));
        assert!(problems[2].starts_with("line 3: projects/a 2026-01 is already on line 2"));
        let problems = parse_rows("name,month\n").unwrap_err();
        assert!(problems.last().unwrap().contains("`project` and `period`"));
    }

    #[test]
    fn the_same_rows_make_the_same_request_id() {
        let text = "project,period,energy\na,2026-01,1\nb,2026-01,2\n";
        let rows = parse_rows(text).unwrap();
        assert_eq!(batch_request_id(&rows), batch_request_id(&rows.clone()));
        assert_ne!(batch_request_id(&rows[..1]), batch_request_id(&rows));
        assert!(batch_request_id(&rows).len() <= 128);
    }
}
