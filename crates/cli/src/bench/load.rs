//! Driving calls at a system and recording how long they took: closed loop
//! (N clients, each calling again as soon as its answer arrives) or open
//! loop (calls started at a fixed offered rate whatever the answers do,
//! each latency measured from the instant the call was *due*, so a stall
//! counts against every call it delayed: no coordinated omission).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How load is offered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// `clients` concurrent callers, back to back.
    Closed { clients: usize },
    /// Calls started at `rate` per second.
    Open { rate: f64 },
}

/// How long to load, and how much of it is warm-up (not recorded).
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Calls in flight at most in open loop; past it a due call is counted as
/// dropped rather than piling up without bound.
const MAX_IN_FLIGHT: usize = 20_000;

/// What one scenario's load produced.
pub struct Recorded {
    /// Latencies of successful calls, in microseconds.
    pub latency: Histogram<u64>,
    pub errors: u64,
    /// Open loop: calls not started because too many were in flight.
    pub dropped: u64,
    /// The first error seen, to show.
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Recorded {
    fn new() -> Self {
        Self {
            latency: new_histogram(),
            errors: 0,
            dropped: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, outcome: Result<(), String>, latency: Duration) {
        match outcome {
            Ok(()) => {
                let micros = latency.as_micros().clamp(1, u64::MAX as u128) as u64;
                self.latency.saturating_record(micros);
            }
            Err(err) => {
                self.errors += 1;
                self.first_error.get_or_insert(err);
            }
        }
    }

    fn merge(&mut self, other: Recorded) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.errors += other.errors;
        self.dropped += other.dropped;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Successful calls per second over the measured span.
    pub fn throughput(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A histogram of microseconds from 1 µs to 10 minutes, 3 significant
/// digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Runs `call(i)` (i = 0, 1, 2, … over the whole run) under `mode` for
/// `span`, recording the measured part.
pub async fn drive<F, Fut>(mode: Mode, span: Span, call: F) -> Recorded
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    match mode {
        Mode::Closed { clients } => closed_loop(clients, span, call).await,
        Mode::Open { rate } => open_loop(rate, span, call).await,
    }
}

async fn closed_loop<F, Fut>(clients: usize, span: Span, call: F) -> Recorded
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let start = Instant::now();
    let measure_from = start + span.warmup;
    let end = measure_from + span.measure;
    let clients = clients.max(1) as u64;
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut recorded = Recorded::new();
                let mut index = client;
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let outcome = call(index).await;
                    if began >= measure_from {
                        recorded.record(outcome, began.elapsed());
                    }
                    index += clients;
                }
                recorded
            })
        })
        .collect();
    let mut total = Recorded::new();
    for worker in workers {
        if let Ok(recorded) = worker.await {
            total.merge(recorded);
        }
    }
    total.elapsed = span.measure;
    total
}

async fn open_loop<F, Fut>(rate: f64, span: Span, call: F) -> Recorded
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = Instant::now();
    let measure_from = start + span.warmup;
    let end = measure_from + span.measure;
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let (results, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut dropped = 0;
    let mut index: u64 = 0;
    loop {
        let due = start + interval.mul_f64(index as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let measured = due >= measure_from;
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let call = call.clone();
                let results = results.clone();
                tokio::spawn(async move {
                    let outcome = call(index).await;
                    // Measured from when the call was due, not when it began.
                    let latency = due.elapsed();
                    drop(permit);
                    if measured {
                        let _ = results.send((outcome, latency));
                    }
                });
            }
            Err(_) if measured => dropped += 1,
            Err(_) => {}
        }
        index += 1;
    }
    drop(results);
    let mut total = Recorded::new();
    while let Some((outcome, latency)) = received.recv().await {
        total.record(outcome, latency);
    }
    total.dropped = dropped;
    total.elapsed = span.measure;
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(measure_ms: u64) -> Span {
        Span {
            warmup: Duration::from_millis(50),
            measure: Duration::from_millis(measure_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_offers_the_rate_whatever_the_answers_do() {
        // Every call takes 1 ms, except that calls 300 and 301 take 200 ms:
        // the calls due meanwhile still start on time (open loop), so only
        // those two are slow.
        let recorded = drive(
            Mode::Open { rate: 1000.0 },
            span(1000),
            |index| async move {
                let pause = if (300..=301).contains(&index) { 200 } else { 1 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
                Ok(())
            },
        )
        .await;
        assert_eq!(recorded.latency.len(), 1000, "warm-up not recorded");
        assert_eq!(recorded.errors + recorded.dropped, 0);
        assert!(recorded.latency.value_at_quantile(0.5) < 2_000);
        assert!(recorded.latency.max() >= 200_000);
        assert!((recorded.throughput() - 1000.0).abs() < 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_clients_call_back_to_back() {
        let recorded = drive(Mode::Closed { clients: 4 }, span(1000), |_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err("refused".to_owned())
        })
        .await;
        assert_eq!(recorded.latency.len(), 0);
        // 4 clients × 100 calls of 10 ms in 1 s, give or take the edges.
        assert!(
            (399..=404).contains(&recorded.errors),
            "{}",
            recorded.errors
        );
        assert_eq!(recorded.first_error.as_deref(), Some("refused"));
    }
}
