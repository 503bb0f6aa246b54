//! `jilin backup` and `jilin restore`: a consistent snapshot of each
//! service's store, taken from the running service (or, with
//! `--data-dir`, from a stopped one's directory), and its restore into a
//! new data directory, saying what each service will do about the events
//! it missed.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use jilin_proto::admin::v1::BackupRequest;
use jilin_proto::admin::v1::store_admin_client::StoreAdminClient;
use jilin_store::{BackupSummary, Layout, Store};
use tokio::io::AsyncWriteExt;

use super::{ClientError, Connection, Outcome};
use crate::output;

/// The three services' stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Registry,
    Indicators,
    Risk,
}

impl Service {
    const ALL: [Service; 3] = [Service::Registry, Service::Indicators, Service::Risk];

    fn layout(self) -> &'static Layout {
        match self {
            Service::Registry => &jilin_registry::STORE_LAYOUT,
            Service::Indicators => &jilin_indicators::store::LAYOUT,
            Service::Risk => &jilin_risk::store::LAYOUT,
        }
    }

    fn name(self) -> &'static str {
        self.layout().kind
    }

    fn url(self, connection: &Connection) -> &str {
        match self {
            Service::Registry => &connection.registry,
            Service::Indicators => &connection.indicators,
            Service::Risk => &connection.risk,
        }
    }

    /// The file of its backup in a backup directory.
    fn backup_file(self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.backup", self.name()))
    }

    /// What the service does, once started on its restored store, about
    /// what happened after the backup.
    fn after_restore(self, summary: &BackupSummary) -> String {
        let header = &summary.header;
        match self {
            Service::Registry => format!(
                "publishes again the {} events it had not yet published (up to outbox sequence {}), \
                 under their ids. Changes made after {} are not in it: JILIN_REGISTRY events \
                 published after that time describe changes it no longer holds",
                header.outbox_pending, header.outbox_last_sequence, header.taken_at
            ),
            Service::Indicators => "replays JILIN_REGISTRY from its start; what it holds changes \
                 nothing, what it missed is applied"
                .into(),
            Service::Risk => "replays JILIN_REGISTRY and JILIN_INDICATORS from their start; what \
                 it holds changes nothing, what it missed is applied"
                .into(),
        }
    }
}

/// `jilin backup` flags.
#[derive(Debug, clap::Args)]
pub struct Backup {
    /// The directory to write `registry.backup`, `indicators.backup` and
    /// `risk.backup` into.
    #[arg(long)]
    pub out: PathBuf,
    /// Read the stores under this data directory (as `jilin up` lays it
    /// out) instead of asking the running services; they must be stopped.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Only these services (repeat it; all three by default).
    #[arg(long = "service", value_enum)]
    pub services: Vec<Service>,
}

/// `jilin restore` flags.
#[derive(Debug, clap::Args)]
pub struct Restore {
    /// A directory `jilin backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into (as `jilin up` lays it out:
    /// `registry/`, `indicators/`, `risk/`, each new or empty).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Only these services (repeat it; every backup found by default).
    #[arg(long = "service", value_enum)]
    pub services: Vec<Service>,
}

fn chosen(services: &[Service]) -> Vec<Service> {
    if services.is_empty() {
        Service::ALL.to_vec()
    } else {
        services.to_vec()
    }
}

fn failed(err: impl std::fmt::Display) -> ClientError {
    ClientError::Usage(err.to_string())
}

pub async fn backup(connection: &Connection, args: Backup) -> Outcome {
    std::fs::create_dir_all(&args.out)
        .map_err(|err| failed(format!("cannot create {}: {err}", args.out.display())))?;
    let mut rows = Vec::new();
    for service in chosen(&args.services) {
        let file = service.backup_file(&args.out);
        let partial = file.with_extension("backup.partial");
        match &args.data_dir {
            Some(data_dir) => backup_stopped(service, &data_dir.join(service.name()), &partial)?,
            None => backup_running(connection, service, &partial).await?,
        }
        let summary = jilin_store::verify(&partial).map_err(failed)?;
        std::fs::rename(&partial, &file).map_err(failed)?;
        rows.push(vec![
            service.name().to_owned(),
            file.display().to_string(),
            summary.records.to_string(),
            summary.bytes.to_string(),
            summary.header.taken_at.clone(),
        ]);
    }
    if connection.json() {
        for row in &rows {
            let keys = ["service", "file", "records", "bytes", "taken_at"];
            let object: serde_json::Map<_, _> = keys
                .iter()
                .zip(row)
                .map(|(key, value)| (key.to_string(), serde_json::Value::from(value.clone())))
                .collect();
            println!("{}", serde_json::Value::Object(object));
        }
    } else {
        let header = ["SERVICE", "FILE", "RECORDS", "BYTES", "TAKEN AT"];
        println!("{}", output::table(&header, rows));
    }
    Ok(())
}

/// Streams the running service's backup into `file`.
async fn backup_running(connection: &Connection, service: Service, file: &Path) -> Outcome {
    let channel = connection.authed(service.url(connection)).await?;
    let mut chunks = StoreAdminClient::new(channel)
        .backup(BackupRequest {})
        .await?
        .into_inner();
    let mut out = tokio::fs::File::create(file).await.map_err(failed)?;
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?.data).await.map_err(failed)?;
    }
    out.sync_all().await.map_err(failed)?;
    Ok(())
}

/// Backs up a stopped service's store in `store_dir` into `file`.
fn backup_stopped(service: Service, store_dir: &Path, file: &Path) -> Outcome {
    if !store_dir.exists() {
        return Err(failed(format!(
            "no {} store in {}",
            service.name(),
            store_dir.display()
        )));
    }
    let store = Store::open(store_dir, service.layout()).map_err(|err| {
        failed(format!(
            "cannot open {} ({err}); is the service running? Then leave out --data-dir",
            store_dir.display()
        ))
    })?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    store.backup_to(file, &now).map_err(failed)?;
    Ok(())
}

pub fn restore(connection: &Connection, args: Restore) -> Outcome {
    let services: Vec<Service> = chosen(&args.services)
        .into_iter()
        .filter(|service| !args.services.is_empty() || service.backup_file(&args.from).exists())
        .collect();
    if services.is_empty() {
        return Err(failed(format!("no backups in {}", args.from.display())));
    }
    let mut restored = Vec::new();
    for service in services {
        let target = args.data_dir.join(service.name());
        let summary =
            jilin_store::restore(&service.backup_file(&args.from), &target, service.layout())
                .map_err(failed)?;
        restored.push((service, target, summary));
    }
    for (service, target, summary) in &restored {
        let what = service.after_restore(summary);
        if connection.json() {
            let object = serde_json::json!({
                "service": service.name(),
                "data_dir": target.display().to_string(),
                "records": summary.records,
                "taken_at": summary.header.taken_at,
                "on_start": what,
            });
            println!("{object}");
        } else {
            println!(
                "{}: {} records from {} into {}. On its next start it {what}.",
                service.name(),
                summary.records,
                summary.header.taken_at,
                target.display()
            );
        }
    }
    Ok(())
}
