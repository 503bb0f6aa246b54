//! Writers waiting for their turn do not hold threads. Transactions run one
//! at a time; if each waiting writer blocked a thread of its own on the
//! writer's lock, a burst of concurrent calls would start as many threads
//! (each with an allocator heap of its own). This test runs alone in its
//! own process, so the process's thread count is the store's doing.

use std::time::Duration;

use jilin_store::{Layout, Store};

const THINGS: Layout = Layout {
    kind: "test",
    version: 1,
    upgrades_from: 1,
    tables: &["things"],
};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux /proc")
        .count()
}

#[test]
fn a_burst_of_writers_waits_as_tasks_not_as_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &THINGS).unwrap();
    let things = store.table::<u32>("things").unwrap();
    let before = threads();
    let most = runtime.block_on(async {
        let writers: Vec<_> = (0..64u32)
            .map(|index| {
                let (store, things) = (store.clone(), things.clone());
                tokio::spawn(async move {
                    store
                        .write(|tx| {
                            // A transaction that takes a while: the others
                            // queue behind it.
                            std::thread::sleep(Duration::from_millis(5));
                            tx.insert(&things, &index.to_string(), &index)
                        })
                        .await
                })
            })
            .collect();
        let mut most = 0;
        while !writers.iter().all(|writer| writer.is_finished()) {
            most = most.max(threads());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        most
    });
    assert_eq!(things.len().unwrap(), 64, "every write went through");
    assert!(
        most <= before + 8,
        "64 queued writers ran on {most} threads ({before} before)"
    );
}
