//! Deliveries: one notification to one receiver and every attempt to
//! hand it over. Attempts are retried with exponential backoff and jitter
//! until the receiver's deadline; then the delivery is failed. Times here
//! are the wall clock's (the receiver's time, not the risk clock's).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::grouping::Notification;

/// The first retry waits about this long; each next one twice as long.
pub const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(250);
/// No retry waits longer than this.
pub const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// One try: the HTTP status (0 without an answer) and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(with = "jilin_domain::timestamp")]
    pub at: OffsetDateTime,
    pub http_status: u16,
    pub error: Option<String>,
}

/// A delivery as stored. Its id is the notification's idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub notification: Notification,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    #[serde(with = "jilin_domain::timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp")]
    pub next_attempt_at: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp")]
    pub deadline: OffsetDateTime,
}

fn after(at: OffsetDateTime, wait: std::time::Duration) -> OffsetDateTime {
    at + time::Duration::try_from(wait).unwrap_or(time::Duration::MAX)
}

/// The wait before retry number `retry` (1 for the first): doubling from
/// [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], scaled by `jitter` in
/// `0.5..=1.0` so that many failed deliveries do not retry in step.
pub fn backoff(retry: u32, jitter: f64) -> std::time::Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    doubled.min(MAX_BACKOFF).mul_f64(jitter.clamp(0.5, 1.0))
}

impl Delivery {
    pub fn new(
        id: String,
        notification: Notification,
        now: OffsetDateTime,
        deadline: std::time::Duration,
    ) -> Self {
        Self {
            id,
            notification,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            created_at: now,
            next_attempt_at: now,
            deadline: after(now, deadline),
        }
    }

    /// Records an attempt: delivered when it succeeded; otherwise retried
    /// after a backoff, or failed when that retry would fall after the
    /// deadline.
    pub fn record(&mut self, attempt: Attempt, jitter: f64) {
        let at = attempt.at;
        let succeeded = attempt.error.is_none();
        self.attempts.push(attempt);
        if succeeded {
            self.state = DeliveryState::Delivered;
            return;
        }
        let retries = u32::try_from(self.attempts.len()).unwrap_or(u32::MAX);
        let next = after(at, backoff(retries, jitter));
        if next > self.deadline {
            self.state = DeliveryState::Failed;
        } else {
            self.next_attempt_at = next;
        }
    }

    /// A delivery whose receiver was deleted can never be made.
    pub fn abandon(&mut self, at: OffsetDateTime) {
        self.attempts.push(Attempt {
            at,
            http_status: 0,
            error: Some("the receiver was deleted".to_owned()),
        });
        self.state = DeliveryState::Failed;
    }

    pub fn is_pending(&self) -> bool {
        self.state == DeliveryState::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-15 10:00 UTC);

    fn delivery(deadline: Duration) -> Delivery {
        let notification = Notification {
            group_key: "desk|".to_owned(),
            route_id: "desk".to_owned(),
            receiver_id: "desk".to_owned(),
            group_labels: BTreeMap::new(),
            alerts: Vec::new(),
            repeat: Duration::from_secs(3600),
        };
        Delivery::new("d1".to_owned(), notification, NOW, deadline)
    }

    fn failed(at: OffsetDateTime) -> Attempt {
        Attempt {
            at,
            http_status: 500,
            error: Some("500 Internal Server Error".to_owned()),
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_only_shortens_it() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(250));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(40, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(1, 7.0), Duration::from_millis(250));
    }

    #[test]
    fn failures_are_retried_then_a_success_delivers() {
        let mut delivery = delivery(Duration::from_secs(60));
        delivery.record(failed(NOW), 1.0);
        assert_eq!(
            delivery.next_attempt_at,
            NOW + time::Duration::milliseconds(250)
        );
        delivery.record(failed(delivery.next_attempt_at), 1.0);
        assert_eq!(
            delivery.next_attempt_at,
            NOW + time::Duration::milliseconds(750)
        );
        delivery.record(
            Attempt {
                at: delivery.next_attempt_at,
                http_status: 200,
                error: None,
            },
            1.0,
        );
        assert_eq!(delivery.state, DeliveryState::Delivered);
        assert_eq!(delivery.attempts.len(), 3);
    }

    #[test]
    fn a_retry_past_the_deadline_fails_the_delivery() {
        let mut delivery = delivery(Duration::from_secs(1));
        let mut at = NOW;
        while delivery.is_pending() {
            delivery.record(failed(at), 1.0);
            at = delivery.next_attempt_at;
        }
        assert_eq!(delivery.state, DeliveryState::Failed);
        // 250 + 500 ms fit in the second; the next 1 s does not.
        assert_eq!(delivery.attempts.len(), 3);
    }
}
