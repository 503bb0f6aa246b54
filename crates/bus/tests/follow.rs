//! Following a stream through `Follow` and `Applier`, against a real
//! nats-server and a real fjall store: the catch-up from a snapshot (an
//! unusable entry is skipped, the rest applied), exactly-once application
//! of repeated events, and pruning of applied ids below the ack floor
//! (every minute, and at once when too many are held).

use std::time::{Duration, Instant};

use jilin_bus::{
    APPLIED_EVENTS, Applier, CloudEvent, ConsumerSpec, Delivery, Follow, Follower, NoSnapshot,
    SnapshotError, SnapshotSource, StreamSpec, prune,
};
use jilin_store::{Store, StoreError, Table, Tx};
use jilin_testkit::NatsServer;
use jilin_testkit::bus::{TestEvent, publish, wait_consumed};
use tokio_util::sync::CancellationToken;

const STREAM: StreamSpec = StreamSpec {
    name: "JILIN_FOLLOWED",
    subjects: "jilin.followed.>",
    source: "jilin/followed",
};
const THINGS: &str = "things";
const PATIENCE: Duration = Duration::from_secs(20);

/// A follower whose events name a thing; applying one counts it. An
/// event whose payload is `bad` can never apply.
#[derive(Clone)]
struct Counter {
    things: Table<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("unusable thing {0:?}")]
struct Unusable(String);

impl Follower for Counter {
    type Fact = String;
    type Prepared = ();
    type Outcome = usize;
    type Rejection = Unusable;
    type Error = StoreError;

    fn decode(&self, event: &CloudEvent) -> Result<String, Unusable> {
        let thing = String::from_utf8_lossy(&event.payload).into_owned();
        if thing == "bad" {
            return Err(Unusable(thing));
        }
        Ok(thing)
    }

    fn prepare(&self, _: &[&String]) -> Result<(), StoreError> {
        Ok(())
    }

    fn apply(&self, tx: &Tx<'_>, _: &(), things: &[&String]) -> Result<usize, StoreError> {
        for thing in things {
            let seen = tx.get(&self.things, thing)?.unwrap_or(0);
            tx.insert(&self.things, thing, &(seen + 1))?;
        }
        Ok(things.len())
    }

    fn committed(&self, _: &usize) {}
}

/// A snapshot of three things, one of them unusable.
struct ThreeThings;

impl SnapshotSource for ThreeThings {
    async fn snapshot(&self, _: &CancellationToken) -> Result<Vec<CloudEvent>, SnapshotError> {
        Ok(["a", "bad", "b"]
            .into_iter()
            .map(|thing| CloudEvent {
                id: format!("snapshot:{thing}"),
                event_type: "jilin.test.v1.Thing".into(),
                source: STREAM.source.into(),
                subject: format!("things/{thing}"),
                time: String::new(),
                payload: thing.as_bytes().to_vec().into(),
                sequence: 0,
                traceparent: String::new(),
            })
            .collect())
    }
}

/// A nats-server, and a store in a temp dir with a counter behind its
/// applier.
struct Setup {
    _nats: NatsServer,
    _dir: tempfile::TempDir,
    client: jilin_bus::async_nats::Client,
    things: Table<u64>,
    applier: Applier<Counter>,
}

impl Setup {
    async fn start() -> Self {
        let nats = NatsServer::start().await;
        let client = jilin_bus::connect(&nats.url(), "test", &Default::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            &jilin_store::Layout {
                kind: "test",
                version: 1,
                upgrades_from: 1,
                tables: &[APPLIED_EVENTS, THINGS],
            },
        )
        .unwrap();
        let things: Table<u64> = store.table(THINGS).unwrap();
        let counter = Counter {
            things: things.clone(),
        };
        let applier = Applier::new(store, STREAM.name, counter).unwrap();
        Self {
            _nats: nats,
            _dir: dir,
            client,
            things,
            applier,
        }
    }
}

/// Follows the stream with `applier` in a task of its own until `shutdown`.
fn follow(
    client: &jilin_bus::async_nats::Client,
    applier: &Applier<Counter>,
    snapshot: impl SnapshotSource + 'static,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let follow = Follow {
        client: client.clone(),
        stream: STREAM,
        consumer: consumer(),
        applier: applier.clone(),
    };
    tokio::spawn(follow.run(snapshot, shutdown.clone()))
}

fn event(id: &str, thing: &str) -> TestEvent {
    TestEvent {
        id: id.into(),
        subject: "jilin.followed.thing".into(),
        event_type: "jilin.test.v1.Thing".into(),
        resource: format!("things/{thing}"),
        payload: thing.as_bytes().to_vec(),
    }
}

fn consumer() -> ConsumerSpec {
    ConsumerSpec {
        stream: STREAM.name,
        durable_name: "follower".into(),
        filter_subject: STREAM.subjects.into(),
        ack_wait: Duration::from_secs(30),
        metrics: jilin_bus::BusMetrics::default(),
    }
}

async fn counted(things: &Table<u64>, expected: &[(&str, u64)]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now: Vec<(String, u64)> = things.scan_prefix("").unwrap();
        let want: Vec<(String, u64)> = expected
            .iter()
            .map(|(thing, count)| (thing.to_string(), *count))
            .collect();
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "things stayed {now:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_follower_catches_up_skipping_what_it_cannot_use_applies_once_and_forgets_acked_ids() {
    let setup = Setup::start().await;
    let Setup {
        client,
        things,
        applier,
        ..
    } = &setup;

    // The stream has lost its first two events.
    let old = [event("e1", "x"), event("e2", "y"), event("e3", "c")];
    publish(client, &STREAM, STREAM.source, &old, true).await;
    let jetstream = jilin_bus::async_nats::jetstream::new(client.clone());
    let stream = jetstream.get_stream(STREAM.name).await.unwrap();
    stream.purge().keep(1).await.unwrap();

    let shutdown = CancellationToken::new();
    let following = follow(client, applier, ThreeThings, &shutdown);
    // The snapshot without its unusable entry, then what the stream holds.
    counted(things, &[("a", 1), ("b", 1), ("c", 1)]).await;

    // The same event again at a new sequence, and an unusable one: the
    // first is recognised and skipped, the second terminated.
    let again = [event("e3", "c"), event("e4", "bad"), event("e5", "d")];
    publish(client, &STREAM, STREAM.source, &again, false).await;
    counted(things, &[("a", 1), ("b", 1), ("c", 1), ("d", 1)]).await;
    wait_consumed(client, STREAM.name, "follower", PATIENCE).await;
    assert_eq!(applier.applied_count().unwrap(), 4, "a, b, c and d");

    // Everything is acknowledged: no id needs remembering any more.
    assert!(applier.remembered().unwrap() > 0);
    prune(client, &consumer(), applier).await.unwrap();
    assert_eq!(applier.remembered().unwrap(), 0);
    assert_eq!(applier.applied_count().unwrap(), 4, "the count stays");

    shutdown.cancel();
    following.await.unwrap();
}

#[tokio::test]
async fn a_follower_holding_too_many_ids_prunes_without_waiting_for_the_minute() {
    let setup = Setup::start().await;
    let Setup { client, things, .. } = &setup;
    let applier = setup.applier.clone().forget_after(3);
    let shutdown = CancellationToken::new();
    let following = follow(client, &applier, NoSnapshot, &shutdown);

    // Five ids held, more than three: a prune is asked for at once, but it
    // may run before the acks land and forget nothing.
    let first: Vec<TestEvent> = (1..=5)
        .map(|n| event(&format!("e{n}"), &format!("t{n}")))
        .collect();
    publish(client, &STREAM, STREAM.source, &first, true).await;
    wait_consumed(client, STREAM.name, "follower", PATIENCE).await;
    // The next commit asks again, a second later at the soonest, and by
    // then the ack floor has passed the first five.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    publish(client, &STREAM, STREAM.source, &[event("e6", "t6")], false).await;
    // Every event applied first: the first prune may already have forgotten
    // the first five, and one id held is no reason to prune.
    let things_named: Vec<String> = (1..=6).map(|n| format!("t{n}")).collect();
    let each_once: Vec<(&str, u64)> = things_named.iter().map(|t| (t.as_str(), 1)).collect();
    counted(things, &each_once).await;
    let deadline = Instant::now() + PATIENCE;
    while applier.remembered().unwrap() > 1 {
        assert!(
            Instant::now() < deadline,
            "{} ids still held; the periodic prune is a minute away",
            applier.remembered().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(applier.applied_count().unwrap(), 6);

    shutdown.cancel();
    following.await.unwrap();
}

#[tokio::test]
async fn no_catch_up_when_the_stream_holds_every_event_or_something_was_applied() {
    let setup = Setup::start().await;
    let Setup {
        client,
        things,
        applier,
        ..
    } = &setup;
    publish(client, &STREAM, STREAM.source, &[event("e1", "x")], true).await;

    let shutdown = CancellationToken::new();
    let follow = || Follow {
        client: client.clone(),
        stream: STREAM,
        consumer: consumer(),
        applier: applier.clone(),
    };
    let following = tokio::spawn(follow().run(ThreeThings, shutdown.clone()));
    counted(things, &[("x", 1)]).await;
    shutdown.cancel();
    following.await.unwrap();

    // Later the stream loses history; a follower that applied something
    // before does not catch up again.
    publish(client, &STREAM, STREAM.source, &[event("e2", "y")], true).await;
    let jetstream = jilin_bus::async_nats::jetstream::new(client.clone());
    let stream = jetstream.get_stream(STREAM.name).await.unwrap();
    stream.purge().keep(1).await.unwrap();
    let shutdown = CancellationToken::new();
    let following = tokio::spawn(follow().run(ThreeThings, shutdown.clone()));
    counted(things, &[("x", 1), ("y", 1)]).await;
    shutdown.cancel();
    following.await.unwrap();
}

/// A delivery of `thing` as event `id` at stream sequence `sequence`.
fn delivery(id: &str, sequence: u64, thing: &str) -> Delivery<String> {
    Delivery {
        id: id.into(),
        sequence,
        fact: thing.into(),
    }
}

/// Two appliers of one stream on one store do not share their memory of
/// applied ids; each transaction checks the stored count against the one
/// its memory was read at, so each event still applies once, in turn or
/// at the same time.
#[tokio::test]
async fn two_appliers_of_one_stream_apply_each_event_once() {
    let setup = Setup::start().await;
    let (first, things) = (&setup.applier, &setup.things);
    let second =
        Applier::new(first.store().clone(), STREAM.name, first.follower().clone()).unwrap();

    first
        .apply(&[delivery("e1", 1, "a"), delivery("e2", 2, "b")])
        .await
        .unwrap();
    second
        .apply(&[delivery("e2", 2, "b"), delivery("e3", 3, "c")])
        .await
        .unwrap();
    first
        .apply(&[
            delivery("e3", 3, "c"),
            delivery("e1", 1, "a"),
            delivery("e4", 4, "a"),
        ])
        .await
        .unwrap();
    counted(things, &[("a", 2), ("b", 1), ("c", 1)]).await;

    let batch: Vec<_> = (5..40)
        .map(|n| delivery(&format!("e{n}"), n, "d"))
        .collect();
    let (one, other) = tokio::join!(first.apply(&batch), second.apply(&batch));
    one.unwrap();
    other.unwrap();
    counted(things, &[("a", 2), ("b", 1), ("c", 1), ("d", 35)]).await;
    assert_eq!(first.applied_count().unwrap(), 39);
}

/// Ids stored one key per event, as store formats before 3 kept them, are
/// still recognised, and forgotten below the ack floor with the batches.
#[tokio::test]
async fn ids_stored_per_event_by_older_formats_are_recognised_and_forgotten() {
    let setup = Setup::start().await;
    let store = setup.applier.store().clone();
    let applied: Table<u64> = store.table(APPLIED_EVENTS).unwrap();
    store
        .write(|tx| {
            tx.insert(&applied, &format!("{}/old", STREAM.name), &5)?;
            tx.insert(&applied, STREAM.name, &1)
        })
        .await
        .unwrap();
    let applier = Applier::new(store, STREAM.name, setup.applier.follower().clone()).unwrap();

    applier
        .apply(&[delivery("old", 5, "a"), delivery("new", 9, "b")])
        .await
        .unwrap();
    counted(&setup.things, &[("b", 1)]).await;
    assert_eq!(applier.applied_count().unwrap(), 2);
    assert_eq!(applier.remembered().unwrap(), 2);

    assert_eq!(applier.forget_acknowledged(5).await.unwrap(), 1);
    assert_eq!(applier.remembered().unwrap(), 1);
    assert_eq!(applier.forget_acknowledged(9).await.unwrap(), 1);
    assert_eq!(applier.remembered().unwrap(), 0);
}

/// Batches go on applying while ids are forgotten: each still applies
/// once, a batch delivered again after the prune is still recognised, and
/// what remains remembered is exactly the ids above the floor.
#[tokio::test]
async fn batches_applied_while_ids_are_forgotten_are_still_recognised() {
    let setup = Setup::start().await;
    let applier = &setup.applier;
    let batch = |from: u64, to: u64| -> Vec<Delivery<String>> {
        (from..to)
            .map(|n| delivery(&format!("e{n}"), n, "t"))
            .collect()
    };
    for start in (1..3001).step_by(100) {
        applier.apply(&batch(start, start + 100)).await.unwrap();
    }
    assert_eq!(applier.remembered().unwrap(), 3000);

    let later = async {
        for start in (3001..4001).step_by(100) {
            applier.apply(&batch(start, start + 100)).await.unwrap();
        }
    };
    let (forgotten, ()) = tokio::join!(applier.forget_acknowledged(2000), later);
    assert_eq!(forgotten.unwrap(), 2000);

    applier.apply(&batch(2001, 4001)).await.unwrap();
    counted(&setup.things, &[("t", 4000)]).await;
    assert_eq!(applier.applied_count().unwrap(), 4000);
    assert_eq!(applier.remembered().unwrap(), 2000);
}

/// A batch whose ids lie on both sides of the ack floor keeps those above
/// it, in memory and in the store: after a prune and after a restart, they
/// are still recognised.
#[tokio::test]
async fn a_batch_straddling_the_floor_keeps_its_ids_above_it() {
    let setup = Setup::start().await;
    let applier = &setup.applier;
    applier
        .apply(&[delivery("e1", 1, "a"), delivery("e2", 2, "a")])
        .await
        .unwrap();
    applier
        .apply(&[delivery("e3", 3, "b"), delivery("e5", 5, "b")])
        .await
        .unwrap();
    assert_eq!(applier.forget_acknowledged(4).await.unwrap(), 3);
    assert_eq!(applier.remembered().unwrap(), 1);

    applier.apply(&[delivery("e5", 5, "b")]).await.unwrap();
    let reopened = Applier::new(
        applier.store().clone(),
        STREAM.name,
        applier.follower().clone(),
    )
    .unwrap();
    reopened.apply(&[delivery("e5", 5, "b")]).await.unwrap();
    counted(&setup.things, &[("a", 2), ("b", 2)]).await;
    assert_eq!(reopened.forget_acknowledged(5).await.unwrap(), 1);
    assert_eq!(reopened.remembered().unwrap(), 0);
}
