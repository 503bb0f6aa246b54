//! `jilin up` as the fault suite runs it: a process of its own on fixed
//! ports, with the nats-server it starts, both SIGKILLed together as when
//! the machine goes down, and started again on the same data directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jilin::client::{AuthedChannel, Credentials};
use jilin_bus::async_nats;
use jilin_proto::registry::v1::registry_service_client::RegistryServiceClient;
use jilin_runtime::ClientTls;
use jilin_testkit::free_port;

pub struct JilinUp {
    data: PathBuf,
    nats_port: u16,
    ports: [u16; 3],
    child: Option<Child>,
    pub kills: u32,
}

impl JilinUp {
    pub fn new(data: PathBuf) -> Self {
        Self {
            data,
            nats_port: free_port(),
            ports: [free_port(), free_port(), free_port()],
            child: None,
            kills: 0,
        }
    }

    /// Starts it and waits until the registry serves.
    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.with_extension("log"))
            .expect("open the log");
        let [registry, indicators, risk] = self.ports.map(|port| format!("127.0.0.1:{port}"));
        let child = Command::new(env!("CARGO_BIN_EXE_jilin"))
            .arg("up")
            .arg("--data-dir")
            .arg(&self.data)
            .args([
                "--nats-url",
                &format!("nats://127.0.0.1:{}", self.nats_port),
            ])
            .args(["--registry-listen", &registry])
            .args(["--indicators-listen", &indicators])
            .args(["--risk-listen", &risk])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone().expect("clone the log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start jilin up");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "jilin up never served");
            if !jilin::identity::dev_cert_files(&self.data).ca.exists() {
                // Its CA is made at its first start.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let channel = self.channel(self.ports[0]);
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = health
                .check(tonic_health::pb::HealthCheckRequest::default())
                .await;
            if answer.is_ok_and(|reply| reply.into_inner().status == 1) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL of `jilin up` and of its nats-server, at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let conf = self.data.join("nats.conf").display().to_string();
            let _ = child.kill();
            let _ = Command::new("pkill").args(["-9", "-f", &conf]).status();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// A channel over TLS (its development CA) to `port`, reconnecting by
    /// itself after a restart.
    fn channel(&self, port: u16) -> tonic::transport::Channel {
        let ca = jilin::identity::dev_cert_files(&self.data).ca;
        let tls = ClientTls::trusting(Some(ca.as_path())).expect("the CA");
        tls.endpoint(&format!("https://127.0.0.1:{port}"))
            .expect("an endpoint")
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy()
    }

    /// The registry as its admin (the development token `jilin up` made).
    pub fn registry(&self) -> RegistryServiceClient<AuthedChannel> {
        let token = std::fs::read_to_string(jilin::client::dev_admin_token(&self.data))
            .expect("the admin token");
        let credentials = Credentials::new(Some(token.trim()), None).expect("credentials");
        RegistryServiceClient::new(credentials.on(self.channel(self.ports[0])))
    }

    /// Its NATS server, as the read-only watcher.
    pub async fn watcher(&self) -> async_nats::Client {
        let access = jilin::nats::dev_access(&self.data, jilin_bus::WATCHER).expect("a watcher");
        let url = format!("nats://127.0.0.1:{}", self.nats_port);
        jilin_bus::connect(&url, "fault-suite", &access)
            .await
            .expect("connect as the watcher")
    }
}

impl Drop for JilinUp {
    fn drop(&mut self) {
        self.kill();
    }
}
