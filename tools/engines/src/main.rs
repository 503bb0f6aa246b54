//! The registry's write pattern on three embedded stores: batches of 1,000
//! reports, each report a report record, a history entry and an outbox
//! event (removed five batches later, as the relay would), one durable
//! commit per batch, from one writer. Prints reports/s, bytes on disk per
//! report, peak RSS, and the time to open the store again.
//!
//! `cargo run --release -- ENGINE DIR PROJECTS MONTHS` (ENGINE: sled, redb or fjall)

use std::path::Path;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1000;
const RELAY_LAG: usize = 5;

fn report_value(project: usize, month: usize) -> Vec<u8> {
    // About what the registry's compact report record holds: ids, a period,
    // eight measures, revision, times, the actor.
    let mut v = Vec::with_capacity(220);
    v.extend_from_slice(
        format!(
            "projects/bench-{project:06}/reports/2024-{:02}",
            month % 12 + 1
        )
        .as_bytes(),
    );
    for measure in 0..8u64 {
        let x =
            (project as u64 * 7919 + month as u64 * 104729 + measure * 15485863) % 1_000_000_007;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(b"\x08\x01\x12\x0bjilin-agency\x1a\x08\x12\x06\x08\xd0\x86\xf6\xc6\x06");
    v.extend_from_slice(&(month as u64 * 1_700_000_000).to_le_bytes());
    v
}

fn history_value(project: usize, month: usize) -> Vec<u8> {
    let mut v = format!(
        "REPORTED 2024-{:02} by jilin-agency revision 1 ",
        month % 12 + 1
    )
    .into_bytes();
    v.extend_from_slice(&(project as u64 ^ 0xdead_beef).to_le_bytes());
    v.extend_from_slice(&[0u8; 40]);
    v
}

fn event_value(project: usize, month: usize) -> Vec<u8> {
    // A ProgressReported event: the project snapshot and the report.
    let mut v = Vec::with_capacity(700);
    v.extend_from_slice(format!("projects/bench-{project:06} Bench plant {project} automobile 220102 2201-drc UNDER_CONSTRUCTION ").as_bytes());
    v.extend_from_slice(&report_value(project, month));
    v.extend_from_slice(&[7u8; 300]);
    v.extend_from_slice(&report_value(project, month + 1));
    v
}

struct Op {
    puts: Vec<(u8, Vec<u8>, Vec<u8>)>,
    removes: Vec<(u8, Vec<u8>)>,
}

fn workload(projects: usize, months: usize) -> impl Iterator<Item = Op> {
    let total = projects * months;
    let mut seq = 0u64;
    let mut pending: std::collections::VecDeque<Vec<Vec<u8>>> = Default::default();
    (0..total.div_ceil(BATCH)).map(move |b| {
        let mut op = Op {
            puts: Vec::new(),
            removes: Vec::new(),
        };
        let mut keys = Vec::new();
        for i in b * BATCH..((b + 1) * BATCH).min(total) {
            let (month, project) = (i / projects, i % projects);
            op.puts.push((
                0,
                format!("bench-{project:06}/2024-{month:02}").into_bytes(),
                report_value(project, month),
            ));
            op.puts.push((
                1,
                format!("bench-{project:06}/{:010}", month + 3).into_bytes(),
                history_value(project, month),
            ));
            seq += 1;
            let key = seq.to_be_bytes().to_vec();
            op.puts.push((2, key.clone(), event_value(project, month)));
            keys.push(key);
        }
        pending.push_back(keys);
        if pending.len() > RELAY_LAG {
            for key in pending.pop_front().unwrap() {
                op.removes.push((2, key));
            }
        }
        op
    })
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// A memory figure of this process from /proc, in MB: `VmHWM` (peak) or
/// `VmRSS` (now).
fn memory_mb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024
}

const NAMES: [&str; 3] = ["reports", "history", "outbox"];

fn run_sled(dir: &Path, ops: impl Iterator<Item = Op>) {
    use sled::Transactional;
    let open = || {
        sled::Config::new()
            .path(dir)
            .cache_capacity(64 << 20)
            .flush_every_ms(Some(200))
            .use_compression(true)
            .compression_factor(1)
            .open()
            .unwrap()
    };
    let db = open();
    let trees: Vec<sled::Tree> = NAMES.iter().map(|n| db.open_tree(n).unwrap()).collect();
    for op in ops {
        (&trees[0], &trees[1], &trees[2])
            .transaction(|(a, b, c)| {
                let t = [a, b, c];
                for (table, key, value) in &op.puts {
                    t[*table as usize].insert(key.as_slice(), value.as_slice())?;
                }
                for (table, key) in &op.removes {
                    t[*table as usize].remove(key.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap();
        db.flush().unwrap();
    }
    drop(trees);
    drop(db);
    std::thread::sleep(std::time::Duration::from_secs(1));
    report_reopen(|| {
        let db = open();
        db.open_tree("reports").unwrap().len()
    });
}

fn run_redb(dir: &Path, ops: impl Iterator<Item = Op>) {
    use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition};
    const TABLES: [TableDefinition<&[u8], &[u8]>; 3] = [
        TableDefinition::new("reports"),
        TableDefinition::new("history"),
        TableDefinition::new("outbox"),
    ];
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("store.redb");
    let open = || {
        Database::builder()
            .set_cache_size(64 << 20)
            .create(&path)
            .unwrap()
    };
    let db = open();
    for op in ops {
        let tx = db.begin_write().unwrap();
        {
            let mut tables: Vec<_> = TABLES.iter().map(|t| tx.open_table(*t).unwrap()).collect();
            for (table, key, value) in &op.puts {
                tables[*table as usize]
                    .insert(key.as_slice(), value.as_slice())
                    .unwrap();
            }
            for (table, key) in &op.removes {
                tables[*table as usize].remove(key.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    drop(db);
    report_reopen(|| {
        let db = open();
        let tx = db.begin_read().unwrap();
        tx.open_table(TABLES[0]).unwrap().len().unwrap() as usize
    });
}

fn run_fjall(dir: &Path, ops: impl Iterator<Item = Op>) {
    use fjall::{Config, PartitionCreateOptions, PersistMode};
    let open = || Config::new(dir).cache_size(64 << 20).open().unwrap();
    let keyspace = open();
    let parts: Vec<_> = NAMES
        .iter()
        .map(|n| {
            keyspace
                .open_partition(n, PartitionCreateOptions::default())
                .unwrap()
        })
        .collect();
    for op in ops {
        let mut batch = keyspace.batch();
        for (table, key, value) in op.puts {
            batch.insert(&parts[table as usize], key, value);
        }
        for (table, key) in op.removes {
            batch.remove(&parts[table as usize], key);
        }
        batch.commit().unwrap();
        keyspace.persist(PersistMode::SyncAll).unwrap();
    }
    drop(parts);
    drop(keyspace);
    std::thread::sleep(std::time::Duration::from_secs(1));
    report_reopen(|| {
        let ks = open();
        let p = ks
            .open_partition("reports", PartitionCreateOptions::default())
            .unwrap();
        p.approximate_len()
    });
}

fn report_reopen(open: impl FnOnce() -> usize) {
    let started = Instant::now();
    let n = open();
    println!(
        "reopen: {:.2} s ({n} reports seen)",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (engine, dir, projects, months) = (
        &args[1],
        Path::new(&args[2]),
        args[3].parse().unwrap(),
        args[4].parse::<usize>().unwrap(),
    );
    let _ = std::fs::remove_dir_all(dir);
    let reports = projects * months;
    let started = Instant::now();
    let ops = workload(projects, months);
    match engine.as_str() {
        "sled" => run_sled(dir, ops),
        "redb" => run_redb(dir, ops),
        "fjall" => run_fjall(dir, ops),
        other => panic!("no engine {other}"),
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes = dir_bytes(dir);
    println!(
        "{engine}: {reports} reports, {:.0} reports/s (incl. reopen), {} bytes/report on disk, peak RSS {} MB, RSS now {} MB",
        reports as f64 / seconds,
        bytes / reports as u64,
        memory_mb("VmHWM"),
        memory_mb("VmRSS")
    );
}
