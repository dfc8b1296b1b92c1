//! Verdicts applied to [`Positions`]: what an OffsetFetch, ListOffsets or
//! Fetch answer does to a partition, and the follow-up it asks of the
//! poller. An answer sent under an older generation changes nothing.

use super::{Fetchable, FollowUp, Place, Position, Positions};
use crate::consumer::error::PartitionError;
use crate::consumer::fetch::FetchVerdict;
use crate::consumer::group::GroupVerdict;
use crate::consumer::list_offsets::ListOffsetsVerdict;
use crate::record::TopicPartition;

impl Positions {
    /// Applies an OffsetFetch verdict for `tp` asked under `generation`:
    /// the committed position, or `auto.offset.reset` when none; a retry
    /// puts the request back (the poller finds the coordinator first when
    /// told to); a refusal fails the partition.
    pub(crate) fn apply_committed(
        &mut self,
        tp: &TopicPartition,
        generation: u64,
        verdict: GroupVerdict<Option<Position>>,
    ) -> FollowUp {
        let (place, follow) = match verdict {
            GroupVerdict::Done(Some(position)) => (Place::At(position), FollowUp::Nothing),
            GroupVerdict::Done(None) => (
                self.reset_place(tp, Position::at(-1), None),
                FollowUp::Nothing,
            ),
            GroupVerdict::FindCoordinator(_) => (
                Place::AwaitingCommitted { requested: false },
                FollowUp::FindCoordinator,
            ),
            GroupVerdict::Retry(_) => (
                Place::AwaitingCommitted { requested: false },
                FollowUp::Backoff,
            ),
            GroupVerdict::Fatal(code) => {
                let error = PartitionError::broker(tp, code);
                let at = Position::at(-1);
                (Place::Failed { error, at }, FollowUp::Nothing)
            }
        };
        match self.partitions.get_mut(tp) {
            Some(p)
                if p.generation == generation
                    && matches!(p.place, Place::AwaitingCommitted { .. }) =>
            {
                p.place = place;
                follow
            }
            _ => FollowUp::Nothing,
        }
    }

    /// Applies a ListOffsets verdict for a reset asked under `generation`.
    pub(crate) fn apply_reset(
        &mut self,
        tp: &TopicPartition,
        generation: u64,
        verdict: ListOffsetsVerdict,
    ) -> FollowUp {
        let Some(p) = self.partitions.get_mut(tp) else {
            return FollowUp::Nothing;
        };
        let Place::AwaitingReset { requested, .. } = &mut p.place else {
            return FollowUp::Nothing;
        };
        if p.generation != generation {
            return FollowUp::Nothing;
        }
        match verdict {
            ListOffsetsVerdict::Offset(position) => {
                p.place = Place::At(position);
                FollowUp::Nothing
            }
            ListOffsetsVerdict::RefreshMetadata(_) => {
                *requested = false;
                FollowUp::RefreshMetadata
            }
            ListOffsetsVerdict::Retry(_) => {
                *requested = false;
                FollowUp::Backoff
            }
            ListOffsetsVerdict::Fatal(code) => {
                let error = PartitionError::broker(tp, code);
                p.place = Place::Failed {
                    error,
                    at: Position::at(-1),
                };
                FollowUp::Nothing
            }
        }
    }

    /// Applies the verdict on a fetch of `tp` sent at `fetched.position`
    /// under `fetched.generation`. A stale answer only ends the fetch.
    pub(crate) fn apply_fetch(&mut self, fetched: &Fetchable, verdict: FetchVerdict) -> FollowUp {
        let tp = &fetched.partition;
        let reset_place = match &verdict {
            FetchVerdict::OffsetOutOfRange => {
                Some(self.reset_place(tp, fetched.position, Some(fetched.position.offset)))
            }
            _ => None,
        };
        let Some(p) = self.partitions.get_mut(tp) else {
            return FollowUp::Nothing;
        };
        p.fetching = false;
        let current = matches!(p.place, Place::At(at) if at == fetched.position);
        if p.generation != fetched.generation || !current {
            return FollowUp::Nothing;
        }
        match verdict {
            FetchVerdict::Records {
                decoded,
                high_watermark,
                limit,
            } => {
                p.high_watermark = Some(high_watermark);
                let mut at = fetched.position;
                if let Some(last) = decoded.records.last() {
                    at.leader_epoch = last.leader_epoch.or(at.leader_epoch);
                }
                at.offset = decoded.next_offset;
                let idle = at.offset == fetched.position.offset && decoded.records.is_empty();
                p.idle_at = idle.then_some((fetched.generation, at.offset));
                for record in decoded.records {
                    p.buffered_bytes += record.payload_len();
                    p.buffer.push_back(record);
                }
                p.place = match decoded.corrupt {
                    Some(corrupt) => Place::Failed {
                        error: corrupt.into(),
                        at,
                    },
                    None if decoded.partial && decoded.batches == 0 => Place::Failed {
                        error: PartitionError::BatchTooLarge {
                            partition: tp.clone(),
                            offset: at.offset,
                            limit,
                        },
                        at,
                    },
                    None => Place::At(at),
                };
                FollowUp::Nothing
            }
            FetchVerdict::OffsetOutOfRange => {
                p.place = reset_place.expect("set above for this verdict");
                FollowUp::Nothing
            }
            FetchVerdict::RefreshMetadata(_) => FollowUp::RefreshMetadata,
            FetchVerdict::Retry(_) => FollowUp::Backoff,
            FetchVerdict::Fatal(code) => {
                p.place = Place::Failed {
                    error: PartitionError::broker(tp, code),
                    at: fetched.position,
                };
                FollowUp::Nothing
            }
        }
    }
}
