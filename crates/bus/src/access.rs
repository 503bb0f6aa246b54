//! Who a service is on NATS, both sides of it. [`NatsAccess`] is what a
//! client presents: a user and password, or a creds file, and the CA of
//! the server's TLS certificate. [`NatsUser`] and [`authorization_block`]
//! are what the server is configured with: one user per service, each
//! allowed to publish only its own stream's subjects (and to use the
//! JetStream API), plus a read-only `watcher` for monitoring consumers.

use std::path::PathBuf;

use crate::{INDICATORS_STREAM, REGISTRY_STREAM, RISK_STREAM, StreamSpec};

/// How a client authenticates to NATS and whether it uses TLS.
#[derive(Clone, Debug, Default)]
pub struct NatsAccess {
    /// A user name, with its password in `password_file`.
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// A NATS creds file (JWT and NKey seed); wins over user and password.
    pub creds_file: Option<PathBuf>,
    /// The CA of the server's certificate (PEM): TLS is then required.
    pub ca: Option<PathBuf>,
}

impl NatsAccess {
    /// As `user`, with the password in `password_file`.
    pub fn user(user: &str, password_file: PathBuf) -> Self {
        Self {
            user: Some(user.to_owned()),
            password_file: Some(password_file),
            ..Self::default()
        }
    }
}

/// A user of the NATS server and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsUser {
    pub name: String,
    pub password: String,
    /// Subjects it may publish to.
    pub publish: Vec<String>,
    /// Subjects it may not publish to, though `publish` allows them.
    pub deny_publish: Vec<String>,
}

/// The JetStream API and the replies to requests: every client needs them.
const JETSTREAM_API: [&str; 2] = ["$JS.API.>", "$JS.ACK.>"];

/// The JetStream calls that change or destroy a stream, denied to
/// the read-only watcher.
const STREAM_CHANGES: [&str; 5] = [
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
];

/// The users that may publish each service's events, by service name.
pub const SERVICE_STREAMS: [(&str, StreamSpec); 3] = [
    ("registry", REGISTRY_STREAM),
    ("indicators", INDICATORS_STREAM),
    ("risk", RISK_STREAM),
];

/// The read-only user of monitoring consumers (`jilin alerts watch --nats`).
pub const WATCHER: &str = "watcher";

/// One user per service, allowed to publish its own stream's subjects
/// only, and the read-only watcher; `password` gives each its password.
pub fn system_users(mut password: impl FnMut(&str) -> String) -> Vec<NatsUser> {
    let api = || JETSTREAM_API.iter().map(|subject| subject.to_string());
    let mut users: Vec<NatsUser> = SERVICE_STREAMS
        .iter()
        .map(|(service, stream)| NatsUser {
            name: service.to_string(),
            password: password(service),
            publish: std::iter::once(stream.subjects.to_owned())
                .chain(api())
                .collect(),
            deny_publish: Vec::new(),
        })
        .collect();
    users.push(NatsUser {
        name: WATCHER.to_owned(),
        password: password(WATCHER),
        publish: api().collect(),
        deny_publish: STREAM_CHANGES.iter().map(|s| s.to_string()).collect(),
    });
    users
}

/// The `authorization { … }` block of a nats-server config for `users`.
pub fn authorization_block(users: &[NatsUser]) -> String {
    let list = |subjects: &[String]| {
        let quoted: Vec<String> = subjects.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut block = String::from("authorization {\n  users = [\n");
    for user in users {
        block.push_str(&format!(
            "    {{ user: {:?}, password: {:?}, permissions: {{ publish: {{ allow: {}, deny: {} }}, subscribe: {{ allow: [\">\"] }} }} }}\n",
            user.name,
            user.password,
            list(&user.publish),
            list(&user.deny_publish),
        ));
    }
    block.push_str("  ]\n}\n");
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_publishes_only_its_own_subjects() {
        let users = system_users(|name| format!("secret-{name}"));
        let registry = users.iter().find(|user| user.name == "registry").unwrap();
        assert!(registry.publish.contains(&"jilin.registry.>".to_owned()));
        assert!(!registry.publish.iter().any(|s| s.starts_with("jilin.risk")));
        assert_eq!(registry.password, "secret-registry");
        let watcher = users.iter().find(|user| user.name == WATCHER).unwrap();
        assert!(!watcher.publish.iter().any(|s| s.starts_with("jilin.")));
        assert!(
            watcher
                .deny_publish
                .contains(&"$JS.API.STREAM.DELETE.>".to_owned())
        );
    }

    #[test]
    fn the_block_quotes_every_name_and_subject() {
        let block = authorization_block(&system_users(|_| "p\"w".into()));
        assert!(block.starts_with("authorization {"));
        assert!(block.contains(r#"user: "risk", password: "p\"w""#));
        assert!(block.contains(r#"allow: ["jilin.risk.>", "$JS.API.>", "$JS.ACK.>"]"#));
    }
}
