//! A `kill -9` of the real binary loses nothing it acknowledged.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sample_project;
use jilin_proto::registry::v1 as pb;
use jilin_testkit::NatsServer;
use pb::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

fn spawn_registry(port: u16, data_dir: &std::path::Path, nats_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jilin-registry"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--insecure-no-auth")
        .arg("--insecure-plaintext")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--nats-url", nats_url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jilin-registry")
}

async fn connect(port: u16) -> RegistryServiceClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match RegistryServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return client,
            Err(err) if Instant::now() > deadline => panic!("registry never came up: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_a_kill_9() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let port = jilin_testkit::free_port();
    let mut child = spawn_registry(port, data.path(), &nats.url());
    let client = connect(port).await;

    // Concurrent writers, so group commit batches them.
    let mut tasks = Vec::new();
    for index in 0..40 {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_project(pb::CreateProjectRequest {
                    project: Some(sample_project()),
                    project_id: format!("crash-{index}"),
                    request_id: String::new(),
                })
                .await
                .map(|_| index)
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.push(task.await.unwrap().expect("create acknowledged"));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let port = jilin_testkit::free_port();
    let mut child = spawn_registry(port, data.path(), &nats.url());
    let mut client = connect(port).await;
    for index in acknowledged {
        client
            .get_project(pb::GetProjectRequest {
                name: format!("projects/crash-{index}"),
            })
            .await
            .unwrap_or_else(|status| panic!("crash-{index} lost: {status}"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
