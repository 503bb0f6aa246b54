//! A three-node (or N-node) NATS JetStream cluster on loopback for tests:
//! each node a real `nats-server` with its own store, routes to the others
//! and a cluster name, so streams can be kept with replicas. A node can be
//! killed (SIGKILL) and started again with the same port and store.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{find_nats_server, free_port};

/// One node: its ports, config file, and process while it runs.
struct Node {
    client_port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// A NATS cluster owned by a test; every node is killed when dropped.
pub struct NatsCluster {
    binary: PathBuf,
    _dir: TempDir,
    nodes: Vec<Node>,
}

impl NatsCluster {
    /// Starts `size` nodes routed to each other, with JetStream, and waits
    /// until each listens.
    pub async fn start(size: usize) -> Self {
        let binary = find_nats_server().expect("nats-server (see NatsServer::start)");
        let dir = tempfile::Builder::new()
            .prefix("jilin-nats-cluster-")
            .tempdir()
            .expect("a temp dir for the cluster");
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(index, (client_port, _))| {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .map(|(_, (_, route))| format!("\"nats-route://127.0.0.1:{route}\""))
                    .collect();
                let store = dir.path().join(format!("node-{index}"));
                let config = format!(
                    "server_name: node-{index}\n\
                     listen: 127.0.0.1:{client_port}\n\
                     jetstream {{ store_dir: {store:?} }}\n\
                     cluster {{ name: jilin-test, listen: 127.0.0.1:{route}, routes: [{routes}] }}\n",
                    store = store.display().to_string(),
                    route = ports[index].1,
                    routes = routes.join(", "),
                );
                let path = dir.path().join(format!("node-{index}.conf"));
                std::fs::write(&path, config).expect("write a node's config");
                Node {
                    client_port: *client_port,
                    config: path,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self {
            binary,
            _dir: dir,
            nodes,
        };
        for index in 0..size {
            cluster.spawn(index);
        }
        for index in 0..size {
            cluster.wait_listening(index).await;
        }
        cluster
    }

    /// Every node's client URL, comma-separated, as clients take them.
    pub fn url(&self) -> String {
        let urls: Vec<String> = (0..self.nodes.len()).map(|i| self.node_url(i)).collect();
        urls.join(",")
    }

    /// The client URL of node `index`.
    pub fn node_url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].client_port)
    }

    /// Kills node `index` at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `index` again with its port and store.
    pub async fn restart(&mut self, index: usize) {
        self.kill(index);
        self.spawn(index);
        self.wait_listening(index).await;
    }

    fn spawn(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("start {}: {err}", self.binary.display()));
        node.child = Some(child);
    }

    async fn wait_listening(&self, index: usize) {
        let port = self.nodes[index].client_port;
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "node {index} did not listen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
    }
}
