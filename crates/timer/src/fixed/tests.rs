use super::*;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Entries queued, live or stale.
pub(super) fn queued<T>(queue: &FixedQueue<T>) -> usize {
    queue.chunks.iter().map(Chunk::queued).sum()
}

/// Checks every structural invariant the O(1) paths rely on.
pub(super) fn check_invariants<T>(queue: &FixedQueue<T>) {
    let mut live = 0;
    let mut last_deadline = 0;
    for (at, chunk) in queue.chunks.iter().enumerate() {
        assert!(chunk.head <= chunk.entries.len());
        assert!(chunk.entries.len() <= CHUNK);
        if at + 1 < queue.chunks.len() {
            // Closed full, shrunk, or rebuilt by a merge: exact.
            assert_eq!(
                chunk.entries.capacity(),
                chunk.entries.len(),
                "only the back chunk keeps slack (chunk {at})"
            );
        }
        let mut stale = 0;
        for entry in &chunk.entries[chunk.head..] {
            let deadline = chunk.deadline_ns(entry);
            assert!(deadline >= last_deadline, "deadlines out of order");
            last_deadline = deadline;
            if is_live(&queue.pages, entry) {
                live += 1;
                let slot = &queue.pages[entry.index as usize / PAGE][entry.index as usize % PAGE];
                assert_eq!(slot.link, queue.number_of(at), "slot names another chunk");
            } else {
                stale += 1;
            }
        }
        assert_eq!(chunk.garbage, stale, "garbage count of chunk {at}");
        assert!(
            // Against all entries: popping live ones from the front chunk
            // raises its ratio without a cancel to trigger a compaction.
            chunk.garbage < MIN_CHUNK_GARBAGE || 2 * chunk.garbage <= chunk.entries.len(),
            "chunk {at} should have been compacted"
        );
    }
    assert_eq!(live, queue.len(), "live entries vs live count");
    let capacity: usize = queue
        .chunks
        .iter()
        .map(|c| c.entries.capacity())
        .sum::<usize>()
        + queue.spare.as_ref().map_or(0, Vec::capacity);
    assert_eq!(queue.entry_capacity, capacity, "entry capacity count");
    assert_eq!(queue.pages.len(), queue.slots_used.div_ceil(PAGE));
    let mut free = 0;
    let mut next = queue.free_head;
    while next != NONE {
        let slot = &queue.pages[next as usize / PAGE][next as usize % PAGE];
        assert!(slot.value.is_none(), "free list reaches an occupied slot");
        next = slot.link;
        free += 1;
    }
    let slots = queue.slots_used;
    assert_eq!(
        free + queue.len(),
        slots,
        "free list lost or duplicated a slot"
    );
}

/// xorshift64: deterministic, no dependency.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

pub(super) fn drain(queue: &mut FixedQueue<u32>, now: Instant) -> Vec<u32> {
    std::iter::from_fn(|| queue.pop_expired(now).map(|e| e.value)).collect()
}

#[test]
fn fires_in_insertion_order_never_early() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(10));
    for i in 0..5 {
        queue.insert(t0 + ms(u64::from(i)), i);
    }
    assert_eq!(queue.next_deadline(), Some(t0 + ms(10)));
    assert!(queue.pop_expired(t0 + ms(9)).is_none());
    assert_eq!(drain(&mut queue, t0 + ms(12)), [0, 1, 2]);
    let last = queue.pop_expired(t0 + ms(20)).unwrap();
    assert_eq!((last.value, last.deadline), (3, t0 + ms(13)));
    assert_eq!(queue.len(), 1);
}

#[test]
fn equal_deadlines_fire_in_insertion_order() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(1));
    for i in 0..10 {
        queue.insert(t0, i);
    }
    assert_eq!(drain(&mut queue, t0 + ms(1)), (0..10).collect::<Vec<_>>());
    assert!(queue.is_empty());
    assert_eq!(queue.next_deadline(), None);
}

#[test]
fn stale_keys_are_inert() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(5));
    let a = queue.insert(t0, 1);
    assert_eq!(queue.cancel(a), Some(1));
    assert_eq!(queue.cancel(a), None);
    // The slot is reused under a new generation: the old key cannot touch it.
    let b = queue.insert(t0, 2);
    assert_eq!(queue.cancel(a), None);
    let fired = queue.pop_expired(t0 + ms(5)).unwrap();
    assert_eq!((fired.key, fired.value), (b, 2));
    assert_eq!(queue.cancel(b), None, "already fired");
}

#[test]
fn clock_going_backwards_fires_later_not_earlier() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(5));
    queue.insert(t0 + ms(10), 1);
    queue.insert(t0 + ms(3), 2);
    queue.insert(t0 - ms(3), 3);
    let fired: Vec<_> = std::iter::from_fn(|| queue.pop_expired(t0 + ms(15))).collect();
    assert_eq!(fired.iter().map(|e| e.value).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(fired.iter().all(|e| e.deadline == t0 + ms(15)));
    assert!(queue.pop_expired(t0 - ms(1)).is_none());
}

#[test]
fn compaction_bounds_garbage_and_keeps_order() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(100));
    let mut kept = Vec::new();
    for i in 0..50_000u32 {
        let key = queue.insert(t0 + Duration::from_micros(u64::from(i)), i);
        if i % 20 == 0 {
            kept.push(i);
        } else {
            assert_eq!(queue.cancel(key), Some(i));
        }
        // No chunk holds more garbage than live entries (beyond the minimum).
        assert!(queued(&queue) <= 2 * queue.len() + queue.chunks.len() * MIN_CHUNK_GARBAGE);
    }
    check_invariants(&queue);
    assert_eq!(queue.len(), kept.len());
    assert_eq!(drain(&mut queue, t0 + ms(200)), kept);
    assert!(queue.is_empty());
}

#[test]
fn cancel_during_expiry_skips_the_cancelled() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(1));
    let keys: Vec<_> = (0..4).map(|i| queue.insert(t0, i)).collect();
    assert_eq!(queue.pop_expired(t0 + ms(1)).unwrap().value, 0);
    assert_eq!(queue.cancel(keys[1]), Some(1));
    assert_eq!(queue.cancel(keys[0]), None);
    assert_eq!(drain(&mut queue, t0 + ms(1)), [2, 3]);
}

#[test]
fn huge_duration_saturates() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, Duration::MAX);
    queue.insert(t0, 1);
    assert!(queue.next_deadline().unwrap() > t0 + Duration::from_secs(365 * 24 * 3600));
    assert!(queue.pop_expired(t0 + ms(1)).is_none());
    assert_eq!(queue.duration(), Duration::from_nanos(u64::MAX));
}

#[test]
fn garbage_per_chunk_stays_bounded() {
    const N: u32 = 200_000;
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, Duration::from_secs(5));
    let mut keys: Vec<_> = (0..N)
        .map(|i| (queue.insert(t0 + Duration::from_micros(u64::from(i)), i), i))
        .collect();
    let mut rng = Rng(0x5EED_0001);
    rng.shuffle(&mut keys);
    let (cancelled, kept) = keys.split_at(N as usize * 95 / 100);
    let slot_bytes = queue.allocated_bytes() - queue_bytes(&queue);
    for &(key, i) in cancelled {
        assert_eq!(queue.cancel(key), Some(i));
    }
    check_invariants(&queue);
    let live = queue.len();
    assert_eq!(live, kept.len());
    // Bound on the chunks' side: each chunk holds at most as much garbage as
    // live entries, or less than the minimum; only the back chunk and the
    // spare have slack (a chunk each); headers are a few per chunk.
    let entry = std::mem::size_of::<Entry>();
    let chunks = queue.chunks.len();
    let bound = 2 * live * entry
        + chunks * (MIN_CHUNK_GARBAGE * entry + 2 * std::mem::size_of::<Chunk>())
        + 2 * CHUNK * entry;
    assert!(
        queue_bytes(&queue) <= bound,
        "{} bytes of chunks for {live} live (bound {bound})",
        queue_bytes(&queue)
    );
    // Slots never shrink (stale keys need their generations), so refill to
    // the old high-water mark: now the slots are all used again and the
    // whole structure is about one slot and one entry per live timer.
    let refill = N as usize - live;
    for i in 0..refill as u32 {
        queue.insert(t0 + ms(300) + Duration::from_micros(u64::from(i)), N + i);
    }
    assert_eq!(
        queue.allocated_bytes() - queue_bytes(&queue),
        slot_bytes,
        "refill reused the freed slots"
    );
    let per_live = queue.allocated_bytes() as f64 / queue.len() as f64;
    let slot = std::mem::size_of::<Slot<u32>>();
    // One page of slots of slack, plus the garbage left in the old chunks
    // (at most their 10_000 live entries' worth, over 200_000 live), the
    // back chunk and spare, and the chunk headers.
    let headers = queue.chunks.capacity() * std::mem::size_of::<Chunk>();
    let bound = (slot + entry) as f64 * (1.0 + f64::from(PAGE as u32) / f64::from(N))
        + (entry * live + 2 * CHUNK * entry + chunks * MIN_CHUNK_GARBAGE * entry + headers) as f64
            / f64::from(N);
    assert!(per_live <= bound, "{per_live:.1} B/live, bound {bound:.1}");
    assert!(per_live <= 40.0, "{per_live:.1} B/live");
    // And draining keeps the order.
    let mut expected: Vec<u32> = kept.iter().map(|&(_, i)| i).collect();
    expected.sort_unstable();
    expected.extend(N..N + refill as u32);
    assert_eq!(drain(&mut queue, t0 + Duration::from_secs(6)), expected);
    check_invariants(&queue);
}

/// Bytes held by the chunk side (chunks, their entries and the spare).
pub(super) fn queue_bytes<T>(queue: &FixedQueue<T>) -> usize {
    let entry = std::mem::size_of::<Entry>();
    queue.chunks.capacity() * std::mem::size_of::<Chunk>()
        + queue
            .chunks
            .iter()
            .map(|c| c.entries.capacity() * entry)
            .sum::<usize>()
        + queue.spare.as_ref().map_or(0, |s| s.capacity() * entry)
}

#[test]
fn stale_keys_inert_across_chunk_compactions_and_slot_reuse() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(50));
    let mut rng = Rng(0x5EED_0002);
    let mut stale = Vec::new();
    let mut pending = std::collections::BTreeMap::new();
    let mut next_value = 0u32;
    for round in 0..6u64 {
        let now = t0 + Duration::from_micros(round * 10);
        for _ in 0..3 * CHUNK {
            let key = queue.insert(now, next_value);
            pending.insert(next_value, key);
            next_value += 1;
        }
        // Cancel most of them in random order: chunks compact and merge, and
        // the freed slots are reused by the next round under new generations.
        let mut values: Vec<u32> = pending.keys().copied().collect();
        rng.shuffle(&mut values);
        for value in values.iter().take(values.len() * 9 / 10) {
            let key = pending.remove(value).unwrap();
            assert_eq!(queue.cancel(key), Some(*value));
            stale.push(key);
        }
        for &key in &stale {
            assert_eq!(queue.cancel(key), None, "stale key hit a live timer");
        }
        check_invariants(&queue);
        assert_eq!(queue.len(), pending.len());
    }
    let fired: Vec<_> = std::iter::from_fn(|| queue.pop_expired(t0 + ms(60))).collect();
    let expected: Vec<_> = pending.iter().map(|(&v, &k)| (v, k)).collect();
    assert_eq!(
        fired.iter().map(|e| (e.value, e.key)).collect::<Vec<_>>(),
        expected
    );
    for e in fired {
        assert_eq!(queue.cancel(e.key), None, "fired key is stale");
    }
    for &key in &stale {
        assert_eq!(queue.cancel(key), None);
    }
    check_invariants(&queue);
}

#[test]
fn fifo_order_preserved_across_compactions() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(10));
    let mut rng = Rng(0x5EED_0003);
    let mut keys = Vec::new();
    for i in 0..40_000u32 {
        // Equal deadlines in runs, so order among equals is tested too.
        let now = t0 + Duration::from_micros(u64::from(i / 7));
        keys.push((queue.insert(now, i), i));
    }
    let mut shuffled = keys.clone();
    rng.shuffle(&mut shuffled);
    let mut cancelled = std::collections::HashSet::new();
    for &(key, i) in &shuffled[..38_000] {
        assert_eq!(queue.cancel(key), Some(i));
        cancelled.insert(i);
        if cancelled.len() % 5_000 == 0 {
            check_invariants(&queue);
        }
    }
    // 2_000 live left in 40 chunks: runs of merges pack them into chunks
    // of up to MERGE_MAX entries, a quarter of that on average at least
    // (merging only pairs of neighbours would leave about twice as many).
    let nonempty = queue.chunks.iter().filter(|c| c.queued() > 0).count();
    assert!(
        nonempty <= 2_000 / (MERGE_MAX / 4) + 1,
        "{nonempty} of {} chunks still hold entries",
        queue.chunks.len()
    );
    let fired: Vec<_> = std::iter::from_fn(|| queue.pop_expired(t0 + ms(20))).collect();
    let expected: Vec<u32> = (0..40_000).filter(|i| !cancelled.contains(i)).collect();
    assert_eq!(fired.iter().map(|e| e.value).collect::<Vec<_>>(), expected);
    for e in &fired {
        assert_eq!(
            e.deadline,
            t0 + ms(10) + Duration::from_micros(u64::from(e.value / 7))
        );
    }
}

#[test]
fn chunks_close_when_offsets_overflow() {
    // Deadlines more than u32::MAX ns apart cannot share a chunk base.
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, Duration::from_secs(30));
    for i in 0..10u32 {
        queue.insert(t0 + Duration::from_secs(u64::from(i) * 3), i);
    }
    assert!(queue.chunks.len() >= 5, "{} chunks", queue.chunks.len());
    check_invariants(&queue);
    let fired: Vec<_> =
        std::iter::from_fn(|| queue.pop_expired(t0 + Duration::from_secs(90))).collect();
    for (i, e) in fired.iter().enumerate() {
        assert_eq!(e.value, i as u32);
        assert_eq!(e.deadline, t0 + Duration::from_secs(30 + 3 * i as u64));
    }
    assert_eq!(fired.len(), 10);
    assert!(queue.chunks.is_empty(), "drained chunks are popped");
}

#[test]
fn merges_only_chunks_whose_deadlines_share_a_base() {
    for (gap, merges) in [(ms(2_000), true), (ms(4_500), false)] {
        let t0 = Instant::now();
        let mut queue = FixedQueue::new(t0, Duration::from_secs(30));
        // Chunk 0 at t0; chunk 1 opened by a gap too wide for one base when
        // it is 4.5 s; chunk 2 so that chunk 1 is not the back one.
        let first: Vec<_> = (0..100).map(|i| queue.insert(t0, i)).collect();
        let second: Vec<_> = (100..200).map(|i| queue.insert(t0 + gap, i)).collect();
        if queue.chunks.len() == 1 {
            // Not split by the offset: split by hand, as a full chunk would.
            let moved = queue.chunks[0].entries.split_off(100);
            let before = queue.chunks[0].entries.capacity();
            queue.chunks[0].entries.shrink_to_fit();
            queue.entry_capacity -= before - queue.chunks[0].entries.capacity();
            let base_ns = queue.chunks[0].base_ns + gap.as_nanos() as u64;
            for entry in &moved {
                let slot =
                    &mut queue.pages[entry.index as usize / PAGE][entry.index as usize % PAGE];
                slot.link = 1;
            }
            let moved: Vec<Entry> = moved
                .into_iter()
                .map(|e| Entry {
                    offset_ns: e.offset_ns - gap.as_nanos() as u32,
                    ..e
                })
                .collect();
            queue.entry_capacity += moved.capacity();
            queue.chunks.push_back(Chunk {
                base_ns,
                entries: moved,
                head: 0,
                garbage: 0,
            });
        }
        queue.insert(t0 + gap + ms(4_500), 200);
        assert_eq!(queue.chunks.len(), 3);
        check_invariants(&queue);
        for (i, &key) in second.iter().enumerate().take(90) {
            assert_eq!(queue.cancel(key), Some(100 + i as u32));
        }
        check_invariants(&queue);
        let live = |c: &Chunk| c.queued() - c.garbage;
        let (older, newer) = (&queue.chunks[0], &queue.chunks[1]);
        if merges {
            // The older chunk's 100 moved in front of the 49 left by the
            // newer one's compaction.
            assert_eq!((older.entries.capacity(), live(newer)), (0, 110));
        } else {
            assert_eq!((live(older), live(newer)), (100, 10));
        }
        let fired: Vec<_> =
            std::iter::from_fn(|| queue.pop_expired(t0 + Duration::from_secs(60))).collect();
        let expected: Vec<_> = (0..100)
            .map(|i| (i, t0))
            .chain((190..200).map(|i| (i, t0 + gap)))
            .chain([(200, t0 + gap + ms(4_500))])
            .map(|(i, at)| (i, at + Duration::from_secs(30)))
            .collect();
        assert_eq!(
            fired
                .iter()
                .map(|e| (e.value, e.deadline))
                .collect::<Vec<_>>(),
            expected
        );
        assert!(first.iter().all(|&key| queue.cancel(key).is_none()));
    }
}

#[test]
fn drained_queue_stops_raising_deadlines() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(5));
    queue.insert(t0 + ms(10), 1);
    assert_eq!(queue.pop_expired(t0 + ms(15)).unwrap().value, 1);
    assert!(
        queue.chunks.is_empty(),
        "the drained chunk is popped at once"
    );
    assert!(
        queue.spare.is_some(),
        "and its buffer kept for the next one"
    );
    // Nothing queued: a clock that went back does not inherit 15 ms.
    queue.insert(t0 + ms(2), 2);
    assert_eq!(queue.next_deadline(), Some(t0 + ms(7)));
    check_invariants(&queue);
}
