//! The NATS notification of an alert change: one CloudEvent per subject
//! the change is announced on (`jilin.risk.alert.<change>.<severity>`),
//! staged in the outbox of the transaction that makes or releases it.

use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_store::{OutboxEntry, StoreError, Tx};
use prost::Message;
use time::OffsetDateTime;

use crate::convert;
use crate::store::ChangeRecord;

/// Stages the NATS events of a notified change, one per subject.
pub(crate) fn stage_notification(
    tx: &Tx<'_>,
    record: &ChangeRecord,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let transition = &record.alert.history[0];
    for subject in transition.change.subjects(transition.severity) {
        tx.stage_event(&outbox_entry(record, subject, now))?;
    }
    Ok(())
}

fn outbox_entry(record: &ChangeRecord, subject: String, now: OffsetDateTime) -> OutboxEntry {
    let payload = events::AlertChanged {
        change: Some(convert::change_record_to_proto(record)),
    };
    OutboxEntry {
        id: uuid::Uuid::now_v7().to_string(),
        subject,
        event_type: events::AlertChanged::full_name(),
        resource: convert::alert_name(&record.alert),
        time: jilin_bus::event_time(now),
        payload: payload.encode_to_vec(),
        // The trace of the event or call being applied, if traced.
        traceparent: jilin_runtime::trace::current_traceparent(""),
        principal: String::new(),
    }
}
