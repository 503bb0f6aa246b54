//! `jilin`: runs the whole system (`up`), loads the demo portfolio
//! (`demo`), and talks to the services as a client (everything else).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jilin::client::{
    self, ClientError, Connection, alerts, backup, delivery, health, indicators, registry, risk,
    token,
};
use jilin::identity::{AgencyCredentials, DevIdentity};
use jilin::up::{self, UpArgs};

/// mimalloc instead of glibc's malloc: when the stores were sled, which
/// allocates and frees a node for nearly every change, glibc's malloc was
/// about a fifth of a bulk load's samples (BENCHMARKS.md). Told to return
/// freed pages at once (`jilin_runtime::purge_freed_pages_at_once`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "jilin",
    version,
    about = "Jilin Industrial Development Monitor: run it, load a demo, query it"
)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry, indicator and risk services in one process.
    Up(UpArgs),
    /// Load the demo portfolio into a running registry (once), each project
    /// as its agency's reporter (tokens signed with the key of `jilin up`
    /// in `--data-dir`).
    Demo {
        #[arg(long, default_value = "2026")]
        seed: u64,
        #[arg(long, default_value = "300")]
        projects: usize,
        #[arg(long, env = "JILIN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
    },
    /// A service's gRPC health (exit 0 when SERVING), for container health
    /// checks and probes.
    Health(health::Health),
    /// Make what a deployment needs once: a signing key and JWKS, a CA and
    /// a certificate for `--host`s, tokens, NATS users' passwords and the
    /// server's authorization block (all under `--dir`, kept if there).
    Secrets {
        #[arg(long)]
        dir: std::path::PathBuf,
        /// A name the services' certificate is valid for (repeat it).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
    /// Back up each service's store: a consistent snapshot taken while it
    /// runs (admin token), or of a stopped one's `--data-dir`.
    Backup(backup::Backup),
    /// Restore backups into a new data directory, and say what each
    /// service will do about what happened after its backup.
    Restore(backup::Restore),
    /// Tokens for development and tests.
    #[command(subcommand)]
    Token(token::Token),
    /// Investment projects.
    #[command(subcommand)]
    Projects(registry::Projects),
    /// Monthly progress reports.
    #[command(subcommand)]
    Reports(registry::Reports),
    /// Sectors and regions.
    #[command(subcommand)]
    Catalog(registry::Catalog),
    /// Development indicators.
    #[command(subcommand)]
    Indicators(indicators::Indicators),
    /// Risk alerts.
    #[command(subcommand)]
    Alerts(alerts::Alerts),
    /// Muting alert notifications.
    #[command(subcommand)]
    Silences(risk::Silences),
    /// Risk rules and their thresholds.
    #[command(subcommand)]
    Rules(risk::Rules),
    /// Where alert notifications are delivered: webhooks, Alertmanagers.
    #[command(subcommand)]
    Receivers(delivery::Receivers),
    /// Which alerts go to which receiver, grouped how.
    #[command(subcommand)]
    Routes(delivery::Routes),
    /// What mutes the delivery of what (a suspended project mutes its lags).
    #[command(subcommand)]
    Inhibitions(delivery::Inhibitions),
    /// Notifications and every attempt to deliver them.
    #[command(subcommand)]
    Deliveries(delivery::Deliveries),
    /// Load a running system as outside clients would and print the
    /// figures (see BENCHMARKS.md).
    Bench(jilin::bench::Bench),
}

fn main() -> ExitCode {
    jilin_runtime::purge_freed_pages_at_once();
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    let cli = Cli::parse();
    let connection = cli.connection;
    let outcome = match cli.command {
        Command::Up(args) => {
            jilin_runtime::init_tracing(args.log_format);
            return up::run(args).await;
        }
        Command::Demo {
            seed,
            projects,
            data_dir,
        } => demo(&connection, seed, projects, &data_dir).await,
        Command::Health(command) => health::run(&connection, command).await,
        Command::Secrets { dir, hosts } => secrets(&dir, &hosts),
        Command::Backup(command) => backup::backup(&connection, command).await,
        Command::Restore(command) => backup::restore(&connection, command),
        Command::Token(command) => token::run(command),
        Command::Projects(command) => registry::projects(&connection, command).await,
        Command::Reports(command) => registry::reports(&connection, command).await,
        Command::Catalog(command) => registry::catalog(&connection, command).await,
        Command::Indicators(command) => indicators::run(&connection, command).await,
        Command::Alerts(command) => alerts::alerts(&connection, command).await,
        Command::Silences(command) => risk::silences(&connection, command).await,
        Command::Rules(command) => risk::rules(&connection, command).await,
        Command::Receivers(command) => delivery::receivers(&connection, command).await,
        Command::Routes(command) => delivery::routes(&connection, command).await,
        Command::Inhibitions(command) => delivery::inhibitions(&connection, command).await,
        Command::Deliveries(command) => delivery::deliveries(&connection, command).await,
        Command::Bench(command) => jilin::bench::run(&connection, command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// `jilin secrets`: the deployment's identity material under `dir`.
fn secrets(dir: &std::path::Path, hosts: &[String]) -> Result<(), ClientError> {
    let failed = |err: &dyn std::fmt::Display| ClientError::Usage(err.to_string());
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let identity = DevIdentity::ensure_for(dir, &hosts).map_err(|err| failed(&err))?;
    identity
        .issue_tokens(time::OffsetDateTime::now_utc(), &jilin::demo::agencies())
        .map_err(|err| failed(&err))?;
    let authorization = jilin::nats::write_authorization(dir).map_err(|err| failed(&err))?;
    println!("signing key and JWKS  {}", identity.keys.jwks.display());
    println!("CA and certificate    {}", identity.certs.cert.display());
    println!("tokens                {}", identity.tokens_dir().display());
    println!("NATS users            {}", authorization.display());
    Ok(())
}

/// Loads the demo history (three years to last month) into the registry.
async fn demo(
    connection: &Connection,
    seed: u64,
    projects: usize,
    data_dir: &std::path::Path,
) -> client::Outcome {
    let args = UpArgs {
        demo_seed: seed,
        demo_projects: projects,
        demo_live_months: 0,
        ..UpArgs::parse_from_defaults()
    };
    let plan = up::demo_plan(&args, time::OffsetDateTime::now_utc().date());
    let channel = connection.channel(&connection.registry).await?;
    let client =
        jilin_proto::registry::v1::registry_service_client::RegistryServiceClient::new(channel);
    let portfolio = plan.portfolio();
    let credentials =
        match DevIdentity::existing(data_dir).map_err(|err| ClientError::Usage(err.to_string()))? {
            Some(identity) => {
                let now = time::OffsetDateTime::now_utc();
                let tokens = identity
                    .issue_tokens(now, &jilin::demo::agencies())
                    .map_err(|err| ClientError::Usage(err.to_string()))?;
                AgencyCredentials::from_tokens(&tokens)?
            }
            None => AgencyCredentials::default(),
        };
    let calls = jilin::demo::load_history(
        &client,
        &credentials,
        &portfolio,
        plan.loaded_until,
        true,
        |_| {},
    )
    .await?;
    if calls == 0 {
        println!("the registry already holds projects: nothing loaded");
    } else {
        println!(
            "loaded {} projects ({calls} calls), {} to {}",
            portfolio.len(),
            plan.first,
            plan.loaded_until
        );
    }
    Ok(())
}
