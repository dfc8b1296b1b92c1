//! What each response means, as pure verdicts; the poller applies them in
//! one place (`poller::apply`). Nothing here touches the poller's state.
//!
//! Produce, per batch:
//!
//! ```text
//!   no error, DUPLICATE_SEQUENCE_NUMBER ─► Complete at the broker's offset
//!   leadership errors (NOT_LEADER, …) ───► RetryAfterMetadata
//!   other retriable errors, lost answer ─► Retry (same bytes)
//!   OUT_OF_ORDER_SEQUENCE_NUMBER ────────► OutOfOrder (pipelined, or a gap:
//!                                          the poller's sequences decide)
//!   UNKNOWN_PRODUCER_ID ─────────────────► RecoverIdentity
//!   INVALID_PRODUCER_EPOCH, fenced ──────► Fatal
//!   anything else ───────────────────────► Fail
//! ```

use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{InitProducerIdResponse, ProduceResponse};
use kafka_protocol::ResponseError;

use super::identity::Granted;
use crate::batch::ProducerIdentity;
use crate::delivery::DeliveryError;
use crate::record::TopicPartition;

/// What to do with one batch after its Produce answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Written at `base_offset` (-1 if the broker gave none).
    Complete {
        base_offset: i64,
        log_append_time: Option<i64>,
    },
    /// Send again, unchanged, after the retry backoff.
    Retry(DeliveryError),
    /// Send again after fresh metadata (the leader may have moved).
    RetryAfterMetadata(DeliveryError),
    /// OUT_OF_ORDER_SEQUENCE_NUMBER: not written; whether that is a gap
    /// depends on the batches before it.
    OutOfOrder(DeliveryError),
    /// Not written, and the broker no longer knows this producer: the
    /// partition needs a new identity, then the batch goes again.
    RecoverIdentity(DeliveryError),
    /// Ends with this error.
    Fail(DeliveryError),
    /// The producer cannot go on.
    Fatal(String),
}

/// The verdict for the batch of `tp`, given the response's `answer` for it
/// (`None` if the response left the partition out) and the attempts the
/// batch has had before this one.
pub(crate) fn produce_verdict(
    tp: &TopicPartition,
    answer: Option<&PartitionProduceResponse>,
    attempts: u32,
) -> Verdict {
    let Some(answer) = answer else {
        return Verdict::Retry(DeliveryError::network(&format!(
            "the Produce response left out {tp}"
        )));
    };
    let code = answer.error_code;
    if code == 0 || code == ResponseError::DuplicateSequenceNumber.code() {
        return Verdict::Complete {
            base_offset: answer.base_offset,
            log_append_time: (answer.log_append_time_ms >= 0).then_some(answer.log_append_time_ms),
        };
    }
    let error = DeliveryError::broker(code, attempts + 1);
    // Kafka calls these two non-retriable; for an idempotent producer they
    // are retried (in order, or under a new identity), so a batch that runs
    // out of time with one says so.
    let recoverable = || DeliveryError::new(error.kind(), true, error.message());
    match ResponseError::try_from_code(code) {
        Some(ResponseError::OutOfOrderSequenceNumber) => Verdict::OutOfOrder(recoverable()),
        Some(ResponseError::UnknownProducerId) => Verdict::RecoverIdentity(recoverable()),
        Some(
            e @ (ResponseError::InvalidProducerEpoch
            | ResponseError::ProducerFenced
            | ResponseError::InvalidProducerIdMapping),
        ) => Verdict::Fatal(format!(
            "the broker fenced this producer on {tp} with {e}: another producer with the same id \
             and a newer epoch exists"
        )),
        Some(
            ResponseError::NotLeaderOrFollower
            | ResponseError::LeaderNotAvailable
            | ResponseError::UnknownTopicOrPartition
            | ResponseError::FencedLeaderEpoch,
        ) => Verdict::RetryAfterMetadata(error),
        _ if error.is_retriable() => Verdict::Retry(error),
        _ => Verdict::Fail(error),
    }
}

/// The answer for `tp` in a Produce response.
pub(crate) fn answer_for<'a>(
    response: &'a ProduceResponse,
    tp: &TopicPartition,
) -> Option<&'a PartitionProduceResponse> {
    response
        .responses
        .iter()
        .filter(|t| t.name.0.as_str() == &*tp.topic)
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == tp.partition)
}

/// What an InitProducerId answer means.
pub(crate) fn init_producer_id(response: &InitProducerIdResponse) -> Granted {
    match ResponseError::try_from_code(response.error_code) {
        None if response.producer_id.0 >= 0 && response.producer_epoch >= 0 => {
            Granted::Identity(ProducerIdentity {
                id: response.producer_id.0,
                epoch: response.producer_epoch,
            })
        }
        None => Granted::Refused(format!(
            "the broker answered InitProducerId without an error but with producer id {} epoch {}",
            response.producer_id.0, response.producer_epoch
        )),
        Some(
            e @ (ResponseError::InvalidProducerEpoch
            | ResponseError::ProducerFenced
            | ResponseError::InvalidProducerIdMapping
            | ResponseError::UnknownProducerId),
        ) => Granted::AskFresh(e.to_string()),
        Some(e) if e.is_retriable() => Granted::Retry(e.to_string()),
        Some(e) => Granted::Refused(format!("InitProducerId failed with {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ProducerId;

    fn answer(code: ResponseError) -> PartitionProduceResponse {
        PartitionProduceResponse::default()
            .with_error_code(code.code())
            .with_base_offset(41)
    }

    fn verdict(code: ResponseError) -> Verdict {
        produce_verdict(&TopicPartition::new("t", 0), Some(&answer(code)), 0)
    }

    #[test]
    fn produce_errors_map_to_verdicts() {
        let tp = TopicPartition::new("t", 0);
        let ok = PartitionProduceResponse::default().with_base_offset(7);
        assert_eq!(
            produce_verdict(&tp, Some(&ok), 0),
            Verdict::Complete {
                base_offset: 7,
                log_append_time: None
            }
        );
        assert!(matches!(
            verdict(ResponseError::DuplicateSequenceNumber),
            Verdict::Complete {
                base_offset: 41,
                ..
            }
        ));
        assert!(matches!(
            verdict(ResponseError::NotLeaderOrFollower),
            Verdict::RetryAfterMetadata(_)
        ));
        assert!(matches!(
            verdict(ResponseError::RequestTimedOut),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            verdict(ResponseError::OutOfOrderSequenceNumber),
            Verdict::OutOfOrder(_)
        ));
        assert!(matches!(
            verdict(ResponseError::UnknownProducerId),
            Verdict::RecoverIdentity(_)
        ));
        assert!(matches!(
            verdict(ResponseError::InvalidProducerEpoch),
            Verdict::Fatal(_)
        ));
        assert!(matches!(
            verdict(ResponseError::MessageTooLarge),
            Verdict::Fail(_)
        ));
        assert!(matches!(produce_verdict(&tp, None, 0), Verdict::Retry(_)));
    }

    #[test]
    fn init_producer_id_answers_map_to_grants() {
        let granted = InitProducerIdResponse::default()
            .with_producer_id(ProducerId(5))
            .with_producer_epoch(2);
        assert_eq!(
            init_producer_id(&granted),
            Granted::Identity(ProducerIdentity { id: 5, epoch: 2 })
        );
        let error = |e: ResponseError| {
            init_producer_id(&InitProducerIdResponse::default().with_error_code(e.code()))
        };
        assert!(matches!(
            error(ResponseError::CoordinatorLoadInProgress),
            Granted::Retry(_)
        ));
        assert!(matches!(
            error(ResponseError::InvalidProducerEpoch),
            Granted::AskFresh(_)
        ));
        assert!(matches!(
            error(ResponseError::ClusterAuthorizationFailed),
            Granted::Refused(_)
        ));
        let sentinel = InitProducerIdResponse::default().with_producer_id(ProducerId(-1));
        assert!(matches!(init_producer_id(&sentinel), Granted::Refused(_)));
    }
}
