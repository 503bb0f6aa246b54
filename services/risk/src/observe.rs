//! What happens to the alerts inside one transaction: the evaluations of
//! rules are observed against the stored alerts, and each alert that
//! changes is written with one numbered change record per transition,
//! its notification and the delivery groups it joins. [`Context`] is what
//! such a transaction reads, [`Written`] what it wrote (for the watchers
//! woken and the tally moved after the commit).

use std::sync::Arc;

use jilin_domain::Period;
use jilin_store::{StoreError, Tx};
use time::OffsetDateTime;

use crate::active_alerts::{ActiveAlerts, Noted};
use crate::delivery;
use crate::delivery::due::DueGroups;
use crate::domain::alert::{self, Alert, Change, State};
use crate::domain::evaluate::{Evaluation, IndicatorValue, indicator_evaluations};
use crate::domain::project::Benchmarks;
use crate::domain::routing::CompiledRoute;
use crate::domain::rules::Rule;
use crate::domain::silence::{Silence, is_silenced};
use crate::domain::tally::Move;
use crate::notify::stage_notification;
use crate::store::{ChangeRecord, Tables, change_key, next_sequence, value_key};

/// What one transaction wrote to the alerts: a numbered change for each
/// transition, a move for each alert written (for the tally), and the
/// alerts it left resolved (no longer active once it commits).
#[derive(Debug, Default)]
pub struct Written {
    pub records: Vec<ChangeRecord>,
    pub moves: Vec<Move>,
    pub resolved: Vec<Noted>,
}

/// What every evaluation inside one transaction reads.
pub struct Context {
    pub(crate) rules: Vec<Rule>,
    pub(crate) silences: Vec<Silence>,
    pub(crate) routes: Arc<Vec<CompiledRoute>>,
    pub(crate) benchmarks: Benchmarks,
    pub(crate) now: OffsetDateTime,
    /// The alerts that may be active (see [`ActiveAlerts`]).
    pub(crate) active_alerts: Arc<ActiveAlerts>,
    /// When each alert group is next due (see [`DueGroups`]).
    pub(crate) due_groups: Arc<DueGroups>,
}

/// The month `now` falls in: still being reported.
fn current_month(now: OffsetDateTime) -> Period {
    Period::of_date(now.date())
}

/// How far back the latest complete value of an indicator is looked for.
const LOOKBACK_MONTHS: i32 = 24;

/// Judges the indicator rules of one indicator and group against its
/// latest complete month as stored, whatever order the values came in: a
/// value published before its month's reports were all applied is replaced
/// by the later one, and only months before the clock's count (the current
/// month is still being reported, and plans spread into future months
/// have values nobody has reported yet).
pub(crate) fn judge_indicator(
    tables: &Tables,
    tx: &Tx<'_>,
    context: &Context,
    indicator: &str,
    group: &str,
    written: &mut Written,
) -> Result<(), StoreError> {
    let mut period = current_month(context.now);
    for _ in 0..LOOKBACK_MONTHS {
        let Some(earlier) = period.add_months(-1) else {
            return Ok(());
        };
        period = earlier;
        let Some(stored) = tx.get(
            &tables.indicator_values,
            &value_key(indicator, group, period),
        )?
        else {
            continue;
        };
        let value = IndicatorValue {
            indicator: stored.indicator,
            group: stored.group,
            period: stored.period,
            value: stored.value,
            target: stored.target,
        };
        let evaluations = indicator_evaluations(&context.rules, &value, context.now);
        return observe_all(tables, tx, context, evaluations, written);
    }
    Ok(())
}

/// Observes each evaluation against its stored alert, writing what changed.
pub(crate) fn observe_all(
    tables: &Tables,
    tx: &Tx<'_>,
    context: &Context,
    evaluations: Vec<Evaluation<'_>>,
    written: &mut Written,
) -> Result<(), StoreError> {
    for evaluation in evaluations {
        let fingerprint = Alert::fingerprint(&evaluation.rule.id, &evaluation.subject);
        let breaching = evaluation
            .reading
            .value
            .is_some_and(|value| evaluation.rule.classify(value).is_some());
        // A clear reading changes only an active alert.
        if !breaching && !context.active_alerts.may_be_active(&fingerprint) {
            continue;
        }
        let current = tx.get(&tables.alerts, &fingerprint)?;
        let (next, notified) = alert::observe(
            current.as_ref(),
            evaluation.rule,
            &evaluation.subject,
            &evaluation.reading,
        );
        let Some(mut next) = next else { continue };
        next.labels = evaluation.labels();
        // The summary tells the last breach: a clear reading (or a rule
        // that no longer applies) leaves it as it was.
        if breaching || next.summary.is_empty() {
            next.summary = evaluation.summary();
        }
        if current.as_ref() == Some(&next) {
            continue;
        }
        let noted = context.active_alerts.note(&fingerprint);
        tx.insert(&tables.alerts, &fingerprint, &next)?;
        if next.state == State::Resolved {
            written.resolved.push(noted);
        }
        written.moves.push(Move::of(current.as_ref(), &next));
        // Every new history entry is a change; those `observe` reports
        // (a subsequence) are notified.
        let mut notified = notified.into_iter().peekable();
        let seen = current.map_or(0, |alert| alert.history.len());
        for index in seen..next.history.len() {
            let notify = notified.next_if_eq(&next.history[index].change).is_some();
            written
                .records
                .push(log_change(tables, tx, context, &next, index, notify)?);
        }
    }
    Ok(())
}

/// Numbers one transition of `alert` and stages its notification unless
/// it is not notified or a silence mutes it.
pub(crate) fn log_change(
    tables: &Tables,
    tx: &Tx<'_>,
    context: &Context,
    alert: &Alert,
    index: usize,
    notify: bool,
) -> Result<ChangeRecord, StoreError> {
    let transition = &alert.history[index];
    // The change log keeps the alert with only this change's transition:
    // a flapping alert's full history once per change would grow as its
    // square. GetAlert has the whole history.
    let record = ChangeRecord {
        sequence: next_sequence(tables, tx)?,
        change: transition.change,
        alert: Alert {
            history: vec![transition.clone()],
            ..alert.clone()
        },
        silenced: is_silenced(&context.silences, &alert.labels, context.now),
    };
    tx.insert(&tables.changes, &change_key(record.sequence), &record)?;
    if notify && !record.silenced {
        stage_notification(tx, &record, context.now)?;
        tx.remove_if_present(&tables.held_back, &record.alert.fingerprint_key())?;
    } else if notify && transition.change != Change::Acknowledged {
        // Published once the silence ends (crate::unsilenced); an
        // acknowledgement does not displace the change it acknowledges.
        tx.insert(
            &tables.held_back,
            &record.alert.fingerprint_key(),
            &record.sequence,
        )?;
    }
    // Silences and inhibitions are applied when the group is sent, so that
    // an alert muted now is told once the muting ends.
    if delivery::is_delivered(transition.change) {
        delivery::stage(
            tables,
            tx,
            &context.routes,
            &context.due_groups,
            alert,
            context.now,
        )?;
    }
    Ok(record)
}
