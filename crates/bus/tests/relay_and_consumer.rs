//! The outbox relay and the durable consumer against a real nats-server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jilin_bus::{ConsumerSpec, HandlerError, OutboxRelay, StreamSpec, run_consumer};
use jilin_store::{OutboxEntry, Store, StoreError};
use jilin_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

const STREAM: StreamSpec = StreamSpec {
    name: "JILIN_TEST",
    subjects: "jilin.test.>",
    source: "jilin/test",
};

fn entry(id: &str) -> OutboxEntry {
    OutboxEntry {
        id: id.into(),
        subject: "jilin.test.thing.changed".into(),
        event_type: "jilin.test.v1.ThingChanged".into(),
        resource: format!("things/{id}"),
        time: "2026-11-28T00:00:00Z".into(),
        payload: id.as_bytes().to_vec(),
        traceparent: String::new(),
        principal: String::new(),
    }
}

async fn stage(store: &Store, ids: &[&str]) {
    store
        .write(|tx| -> Result<(), StoreError> {
            for id in ids {
                tx.stage_event(&entry(id))?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// A nats-server, a store in a temp dir and its relay running.
struct Harness {
    nats: NatsServer,
    _dir: tempfile::TempDir,
    store: Store,
    client: jilin_bus::async_nats::Client,
    shutdown: CancellationToken,
    relay: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start() -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&dir);
        Self::start_relay(nats, dir, store).await
    }

    /// Starts a relay of `store`, which lives in `dir`.
    async fn start_relay(nats: NatsServer, dir: tempfile::TempDir, store: Store) -> Self {
        let shutdown = CancellationToken::new();
        let client = jilin_bus::connect(&nats.url(), "test", &Default::default())
            .await
            .unwrap();
        let relay = OutboxRelay::new(store.clone(), client.clone(), STREAM);
        let relay = tokio::spawn(relay.run(shutdown.clone()));
        Self {
            nats,
            _dir: dir,
            store,
            client,
            shutdown,
            relay,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.relay.await.unwrap();
    }
}

fn open_store(dir: &tempfile::TempDir) -> Store {
    let layout = jilin_store::Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &[],
    };
    Store::open(dir.path(), &layout).unwrap()
}

/// Messages on the stream; none before the relay makes it.
async fn stream_messages(client: &jilin_bus::async_nats::Client) -> u64 {
    let jetstream = jilin_bus::async_nats::jetstream::new(client.clone());
    match jetstream.get_stream(STREAM.name).await {
        Ok(stream) => stream.cached_info().state.messages,
        Err(_) => 0,
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn relayed_events_reach_a_consumer_in_order_and_a_failed_apply_is_redelivered() {
    let harness = Harness::start().await;
    let (store, client, shutdown) = (
        &harness.store,
        harness.client.clone(),
        harness.shutdown.clone(),
    );
    stage(store, &["e1", "e2", "e3"]).await;
    wait_until("the outbox to drain", || store.outbox_len().unwrap() == 0).await;

    let deliveries = Arc::new(Mutex::new(Vec::<String>::new()));
    let applied = Arc::new(Mutex::new(Vec::<String>::new()));
    let spec = ConsumerSpec {
        stream: STREAM.name,
        durable_name: "test-consumer".into(),
        filter_subject: "jilin.test.>".into(),
        ack_wait: Duration::from_secs(30),
        metrics: jilin_bus::BusMetrics::default(),
    };
    let consumer = {
        let deliveries = deliveries.clone();
        let applied = applied.clone();
        tokio::spawn(run_consumer(
            client.clone(),
            spec,
            move |events: Vec<jilin_bus::CloudEvent>| {
                let deliveries = deliveries.clone();
                let applied = applied.clone();
                async move {
                    let mut results = Vec::new();
                    for event in events {
                        let first_try = {
                            let mut seen = deliveries.lock().unwrap();
                            seen.push(event.id.clone());
                            seen.iter().filter(|id| **id == event.id).count() == 1
                        };
                        assert_eq!(event.source, "jilin/test");
                        assert_eq!(event.subject, format!("things/{}", event.id));
                        if event.id == "e2" && first_try {
                            results.push(Err(HandlerError::Retry("simulated busy store".into())));
                            continue;
                        }
                        applied.lock().unwrap().push(event.id.clone());
                        results.push(Ok(()));
                    }
                    results
                }
            },
            shutdown.clone(),
        ))
    };
    wait_until("all events applied", || applied.lock().unwrap().len() == 3).await;
    let applied_ids = applied.lock().unwrap().clone();
    assert!(applied_ids.contains(&"e2".to_owned()));
    assert_eq!(
        deliveries
            .lock()
            .unwrap()
            .iter()
            .filter(|id| *id == "e2")
            .count(),
        2,
        "a failed apply is redelivered"
    );

    // Everything acknowledged: nothing pending on the durable consumer.
    let jetstream = jilin_bus::async_nats::jetstream::new(client);
    let mut durable: jilin_bus::async_nats::jetstream::consumer::PullConsumer = jetstream
        .get_stream(STREAM.name)
        .await
        .unwrap()
        .get_consumer("test-consumer")
        .await
        .unwrap();
    let info = durable.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, 0);

    shutdown.cancel();
    consumer.await.unwrap();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_publishes_on_while_a_long_write_holds_up_the_removal_of_what_it_published() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    // More than two windows of events (256 each), then a write that holds
    // the writers' turn until told to let go (or a watchdog's 60 s, so
    // that the relay of old, whose removals waited for that turn before the
    // next window, fails this test instead of hanging it).
    let ids: Vec<String> = (0..600).map(|n| format!("e{n}")).collect();
    stage(&store, &ids.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let (holding, held) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let long_write = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(move |_| -> Result<(), StoreError> {
                    holding.send(()).unwrap();
                    let _ = released.recv_timeout(Duration::from_secs(60));
                    Ok(())
                })
                .await
                .unwrap();
        }
    });
    held.await.unwrap();

    let harness = Harness::start_relay(nats, dir, store).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = stream_messages(&harness.client).await;
        if messages == 600 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{messages} of 600 events published while the write holds the turn"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(harness.store.outbox_len().unwrap(), 600, "none removed yet");

    release.send(()).unwrap();
    long_write.await.unwrap();
    let store = harness.store.clone();
    wait_until("the published events' removal", || {
        store.outbox_len().unwrap() == 0
    })
    .await;
    harness.stop().await;
}

#[tokio::test]
async fn republishing_an_event_id_is_absorbed_by_the_duplicate_window() {
    let harness = Harness::start().await;
    let store = &harness.store;
    // The same event staged twice, as after a crash that lost the removal.
    stage(store, &["same", "same", "other"]).await;
    wait_until("the outbox to drain", || store.outbox_len().unwrap() == 0).await;
    assert_eq!(stream_messages(&harness.client).await, 2);
    harness.stop().await;
}

#[tokio::test]
async fn events_relayed_while_nats_restarts_are_on_the_stream_once_each_in_order() {
    let mut harness = Harness::start().await;
    let ids: Vec<String> = (0..3000).map(|i| format!("event-{i:05}")).collect();
    for (index, chunk) in ids.chunks(100).enumerate() {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        stage(&harness.store, &chunk).await;
        if index == 10 {
            // Windows of events are in flight when the server goes away.
            harness.nats.stop();
            tokio::time::sleep(Duration::from_millis(300)).await;
            harness.nats.restart().await;
        }
    }
    let store = harness.store.clone();
    wait_until("the outbox to drain", || store.outbox_len().unwrap() == 0).await;
    let jetstream = jilin_bus::async_nats::jetstream::new(harness.client.clone());
    let stream = jetstream.get_stream(STREAM.name).await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.state.messages, ids.len() as u64, "each event once");
    for (offset, id) in ids.iter().enumerate() {
        let message = stream
            .get_raw_message(info.state.first_sequence + offset as u64)
            .await
            .unwrap();
        assert_eq!(message.payload.as_ref(), id.as_bytes(), "in outbox order");
    }
    harness.stop().await;
}

#[tokio::test]
async fn events_a_crashed_run_published_are_not_published_again_once_duplicates_are_forgotten() {
    use jilin_bus::async_nats::jetstream;

    let nats = NatsServer::start().await;
    let client = jilin_bus::connect(&nats.url(), "test", &Default::default())
        .await
        .unwrap();
    let context = jetstream::new(client.clone());
    // The stream forgets message ids after 100 ms, as a restarted server
    // may forget them at once.
    let stream = context
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM.name.into(),
            subjects: vec![STREAM.subjects.into()],
            duplicate_window: Duration::from_millis(100),
            ..Default::default()
        })
        .await
        .unwrap();
    // A previous run published these, then crashed before removing them
    // from its outbox.
    let ids = ["first", "second", "third"];
    for id in ids {
        let mut headers = jilin_bus::async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        context
            .publish_with_headers("jilin.test.thing.changed", headers, id.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let dir = tempfile::tempdir().unwrap();
    let layout = jilin_store::Layout {
        kind: "test",
        version: 1,
        upgrades_from: 1,
        tables: &[],
    };
    let store = Store::open(dir.path(), &layout).unwrap();
    stage(&store, &ids).await;
    stage(&store, &["fourth"]).await;
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(OutboxRelay::new(store.clone(), client, STREAM).run(shutdown.clone()));
    wait_until("the outbox to drain", || store.outbox_len().unwrap() == 0).await;
    let info = stream.get_info().await.unwrap();
    assert_eq!(
        info.state.messages, 4,
        "the three stored once, the fourth added"
    );
    shutdown.cancel();
    relay.await.unwrap();
}
