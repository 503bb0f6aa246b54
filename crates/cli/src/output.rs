//! How the client prints: aligned tables for people, the canonical
//! protobuf JSON mapping for scripts (`--output json`), and errors as the
//! gRPC code plus every field violation in plain words.

use std::sync::OnceLock;

use comfy_table::{Table, presets};
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic_types::StatusExt;

/// `--output`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(jilin_proto::FILE_DESCRIPTOR_SET)
            .expect("the built-in descriptor set decodes")
    })
}

/// A message in the protobuf JSON mapping (lowerCamelCase fields, enums
/// by name, timestamps in RFC 3339).
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> serde_json::Value {
    let descriptor = pool()
        .get_message_by_name(&M::full_name())
        .expect("every contract message is in the descriptor set");
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .expect("a message decodes with its own descriptor");
    serde_json::to_value(&dynamic).expect("a message serialises")
}

/// Prints one message as JSON on a line.
pub fn print_json<M: prost::Message + prost::Name>(message: &M) {
    println!("{}", to_json(message));
}

/// An aligned table with a header row.
pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key: value` lines for one resource.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| format!("{key:width$}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A gRPC error in plain words: the code, the message, every field
/// violation and failed precondition.
pub fn describe_error(status: &tonic::Status) -> String {
    let mut lines = vec![format!("error: {:?}: {}", status.code(), status.message())];
    if let Some(bad) = status.get_details_bad_request() {
        for violation in bad.field_violations {
            lines.push(format!("  {}: {}", violation.field, violation.description));
        }
    }
    if let Some(failure) = status.get_details_precondition_failure() {
        for violation in failure.violations {
            lines.push(format!(
                "  {}: {}",
                violation.subject, violation.description
            ));
        }
    }
    lines.join("\n")
}

/// A number people can read: thousands separated, no decimals for big ones.
pub fn amount(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// An optional measured value: four significant decimals at most.
pub fn value(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jilin_proto::registry::v1 as registry;

    #[test]
    fn json_follows_the_protobuf_mapping() {
        let project = registry::Project {
            name: "projects/faw".into(),
            planned_investment_yuan: 1_200_000_000,
            status: registry::project::Status::UnderConstruction.into(),
            ..Default::default()
        };
        let json = to_json(&project);
        assert_eq!(json["name"], "projects/faw");
        assert_eq!(
            json["plannedInvestmentYuan"], "1200000000",
            "int64 as a string"
        );
        assert_eq!(json["status"], "UNDER_CONSTRUCTION");
    }

    #[test]
    fn tables_align_and_numbers_group() {
        let text = table(
            &["NAME", "N"],
            [
                vec!["a".into(), "1".into()],
                vec!["long name".into(), "22".into()],
            ],
        );
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].find('1'), lines[2].find("22"), "{text}");
        assert_eq!(amount(1_234_567), "1,234,567");
        assert_eq!(amount(-1_000), "-1,000");
        assert_eq!(amount(12), "12");
    }

    #[test]
    fn errors_name_every_bad_field() {
        let mut details = tonic_types::ErrorDetails::new();
        details.add_bad_request_violation("project.sector", "unknown sector `x`");
        details.add_bad_request_violation("project.region_code", "required");
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "the request has 2 invalid field(s)",
            details,
        );
        assert_eq!(
            describe_error(&status),
            "error: InvalidArgument: the request has 2 invalid field(s)\n  \
             project.sector: unknown sector `x`\n  project.region_code: required"
        );
    }
}
