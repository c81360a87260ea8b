//! Delivering one batch: the request with its retries, splitting a batch the server finds too
//! large, and matching the answer's results to the events. Every event of the batch gets
//! exactly one [`Delivery`] and gives its room back, whatever the server answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::batcher::Pending;
use super::outcome::{Delivery, DeliveryStatus};
use super::{Counters, Shared};
use crate::client::record_events_body;
use crate::error::{Error, ErrorCode};
use crate::operations::record_events::{
    self, EventStatus, RecordEventsRecordEvents, RecordEventsRecordEventsResults,
};

/// Delivers `events`, splitting on `LIMIT_EXCEEDED`, and reports every event.
pub(crate) async fn deliver(events: Vec<Pending>, shared: &Shared) {
    let mut parts = vec![events];
    while let Some(part) = parts.pop() {
        match request_with_retries(&part, shared).await {
            Ok(answer) => report(shared, match_results(part, answer.results)),
            Err(e) if e.code() == Some(&ErrorCode::LimitExceeded) && part.len() > 1 => {
                let mut first = part;
                let second = first.split_off(first.len() / 2);
                parts.push(second);
                parts.push(first);
            }
            Err(e) => {
                let error = Arc::new(e);
                let failed = part.into_iter().map(|p| {
                    let status = DeliveryStatus::NotDelivered {
                        error: error.clone(),
                    };
                    delivery(p, None, status)
                });
                report(shared, failed.collect());
            }
        }
    }
}

/// One `recordEvents` request, retried while retryable and before `give_up_after`.
async fn request_with_retries(
    part: &[Pending],
    shared: &Shared,
) -> Result<RecordEventsRecordEvents, Error> {
    let body = record_events_body(part.iter().map(|p| p.encoded.as_str()));
    let give_up = Instant::now() + shared.config.give_up_after;
    let mut attempt = 0;
    loop {
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let answer = shared
            .client
            .post::<record_events::ResponseData>(body.clone())
            .await;
        match answer {
            Ok(data) => return Ok(data.record_events),
            Err(e) if e.is_retryable() && Instant::now() < give_up => {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                let wait = shared.config.backoff.delay(attempt, e.retry_after());
                tracing::debug!(error = %e, ?wait, attempt, "recordEvents failed; retrying");
                // A server may ask for any wait; none outlasts `give_up_after`.
                let until = Instant::now().checked_add(wait).unwrap_or(give_up);
                tokio::time::sleep_until(until.min(give_up)).await;
                attempt = attempt.saturating_add(1);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Pairs each event with its result by `index`; an event without a (first) result for its
/// index is not delivered: the answer was malformed, and nothing says it was stored.
pub(crate) fn match_results(
    part: Vec<Pending>,
    results: Vec<RecordEventsRecordEventsResults>,
) -> Vec<Delivery> {
    let mut slots: Vec<Option<RecordEventsRecordEventsResults>> = Vec::new();
    slots.resize_with(part.len(), || None);
    for result in results {
        if let Ok(i) = usize::try_from(result.index)
            && let Some(slot) = slots.get_mut(i)
            && slot.is_none()
        {
            *slot = Some(result);
        }
    }
    part.into_iter()
        .zip(slots)
        .map(|(pending, result)| match result {
            Some(result) => {
                let status = match result.status {
                    EventStatus::ACCEPTED => DeliveryStatus::Accepted,
                    EventStatus::DUPLICATE => DeliveryStatus::Duplicate,
                    EventStatus::REJECTED => DeliveryStatus::Rejected {
                        reasons: result.errors,
                        error_id: result.error_id,
                    },
                    EventStatus::Other(other) => not_delivered(format!("unknown status {other}")),
                };
                delivery(pending, result.id, status)
            }
            None => delivery(
                pending,
                None,
                not_delivered("no result for this event".into()),
            ),
        })
        .collect()
}

fn not_delivered(why: String) -> DeliveryStatus {
    DeliveryStatus::NotDelivered {
        error: Arc::new(Error::Malformed(why)),
    }
}

fn delivery(pending: Pending, server_id: Option<String>, status: DeliveryStatus) -> Delivery {
    Delivery {
        seq: pending.seq,
        id: pending.id.or(server_id),
        event: pending.encoded,
        status,
    }
}

/// Counts the deliveries, hands them to the callback and frees their room.
fn report(shared: &Shared, deliveries: Vec<Delivery>) {
    let n = deliveries.len();
    for delivery in deliveries {
        count(&shared.counters, &delivery.status).fetch_add(1, Ordering::Relaxed);
        (shared.on_delivery)(delivery);
    }
    shared.room.add_permits(n);
}

fn count<'a>(counters: &'a Counters, status: &DeliveryStatus) -> &'a AtomicU64 {
    match status {
        DeliveryStatus::Accepted => &counters.accepted,
        DeliveryStatus::Duplicate => &counters.duplicates,
        DeliveryStatus::Rejected { .. } => &counters.rejected,
        DeliveryStatus::NotDelivered { .. } => &counters.not_delivered,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::operations::record_events::RejectionCode;

    fn pending(n: usize) -> Vec<Pending> {
        (0..n)
            .map(|i| Pending {
                seq: 100 + i as u64,
                id: Some(format!("e{i}")),
                encoded: format!("{{\"n\":{i}}}"),
            })
            .collect()
    }

    fn result(index: i64, status: EventStatus) -> RecordEventsRecordEventsResults {
        RecordEventsRecordEventsResults {
            index,
            id: None,
            status,
            error_id: None,
            errors: Vec::new(),
        }
    }

    fn status() -> impl Strategy<Value = EventStatus> {
        prop_oneof![
            Just(EventStatus::ACCEPTED),
            Just(EventStatus::DUPLICATE),
            Just(EventStatus::REJECTED),
            ".*".prop_map(EventStatus::Other),
        ]
    }

    proptest! {
        #[test]
        fn every_event_gets_exactly_one_delivery_whatever_the_results(
            n in 0usize..40,
            results in prop::collection::vec((-3i64..50, status()), 0..60),
        ) {
            let results = results.into_iter().map(|(i, s)| result(i, s)).collect();
            let deliveries = match_results(pending(n), results);
            let seqs: Vec<u64> = deliveries.iter().map(|d| d.seq).collect();
            prop_assert_eq!(seqs, (0..n as u64).map(|i| 100 + i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn results_are_matched_by_index_and_missing_ones_are_not_delivered() {
        let mut rejected = result(0, EventStatus::REJECTED);
        rejected.errors.push(crate::Reason {
            code: RejectionCode::SCHEMA_VIOLATION,
            message: "m".into(),
            path: Some("/data".into()),
        });
        let results = vec![result(2, EventStatus::DUPLICATE), rejected];
        let deliveries = match_results(pending(3), results);
        let statuses: Vec<String> = deliveries
            .iter()
            .map(|d| match &d.status {
                DeliveryStatus::Rejected { reasons, .. } => crate::code_name(&reasons[0].code),
                DeliveryStatus::NotDelivered { .. } => "NOT_DELIVERED".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(statuses, ["SCHEMA_VIOLATION", "NOT_DELIVERED", "Duplicate"]);
    }
}
