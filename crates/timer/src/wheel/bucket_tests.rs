//! Unit tests of one bucket's sweeps.

use super::*;
use std::cell::Cell;
use std::collections::HashSet;

fn entry(index: u32) -> Entry {
    Entry { index, tag: 0 }
}

/// A bucket with its full chunks and a pool, as a wheel holds them.
struct Held {
    b: Bucket,
    full: Vec<Vec<Entry>>,
    pool: Pool,
}

impl Held {
    /// The bucket and where its chunks are.
    fn parts(&mut self) -> (&mut Bucket, Store<'_>) {
        let store = Store {
            full: &mut self.full,
            pool: &mut self.pool,
        };
        (&mut self.b, store)
    }

    fn stale(&mut self, index: u32) -> bool {
        self.b.stale(index)
    }

    fn sweep_step(&mut self, live: impl FnMut(Entry) -> bool) -> bool {
        let (b, mut store) = self.parts();
        b.sweep_step(&mut store, live)
    }

    fn compact_exact(&mut self, live: impl FnMut(Entry) -> Option<u64>) -> bool {
        let (b, mut store) = self.parts();
        b.compact_exact(&mut store, live)
    }

    fn listed(&self) -> Vec<Entry> {
        self.b.listed(&self.full)
    }

    fn len(&self) -> usize {
        self.b.len()
    }
}

/// A bucket of `n` entries, slot `i` in position `i` (arrival order), in
/// full chunks and a tail as pushes would leave them.
fn bucket_of(n: u32) -> Held {
    let all: Vec<Entry> = (0..n).map(entry).collect();
    let mut b = Bucket::new();
    let whole = all.len() / CHUNK * CHUNK;
    let full: Vec<Vec<Entry>> = all[..whole].chunks(CHUNK).map(<[Entry]>::to_vec).collect();
    b.entries = all[whole..].to_vec();
    b.chunks = full.len() as u16;
    Held {
        b,
        full,
        pool: Pool::default(),
    }
}

/// Cancels the timers `dead` one by one (into `gone`, which is what the
/// dense tags say), stepping the sweep whenever one is due; returns the
/// entries read.
fn cancel_all(b: &mut Held, dead: &[u32], gone: &mut HashSet<u32>) -> usize {
    let reads = Cell::new(0);
    for &index in dead {
        gone.insert(index);
        if b.stale(index) {
            b.sweep_step(|e| {
                reads.set(reads.get() + 1);
                !gone.contains(&{ e.index })
            });
        }
    }
    reads.get()
}

/// How many of the bucket's entries are for cancelled timers, and how many
/// it lists in all.
fn stale_and_listed(b: &Held, gone: &HashSet<u32>) -> (usize, usize) {
    let listed = b.listed();
    let stale = listed
        .iter()
        .filter(|e| gone.contains(&{ e.index }))
        .count();
    (stale, listed.len())
}

#[test]
fn a_sweep_reads_the_oldest_entries_and_stops_at_young_ones() {
    // 4000 entries; the oldest 3000 are cancelled (request timeouts whose
    // responses came), the youngest 1000 still pending.
    let mut b = bucket_of(4000);
    let dead: Vec<u32> = (0..3000).collect();
    let reads = cancel_all(&mut b, &dead, &mut HashSet::new());
    // Garbage passes half at the 2001st cancel: the sweep then reads the
    // oldest, dead entries (catching up with the cancels still coming, 64
    // reads per cancel, by about the 2032nd) and stops within a block of
    // the first live ones; the garbage left is then under half.
    assert!(
        reads <= 2040 + YOUNG_BLOCK,
        "{reads} reads: the sweep read on into the young, live entries"
    );
    assert!(
        b.len() <= 4000 - 1900,
        "{} entries: garbage not dropped",
        b.len()
    );
    let listed = b.listed();
    assert!(
        (3000..4000).all(|i| listed.contains(&entry(i))),
        "a live entry lost"
    );
}

#[test]
fn garbage_among_entries_read_before_brings_a_full_sweep() {
    let mut b = bucket_of(1000);
    // A first wave: the oldest 600 go, and a sweep reads up to the live.
    let first: Vec<u32> = (0..600).collect();
    let mut gone = HashSet::new();
    cancel_all(&mut b, &first, &mut gone);
    assert!(b.len() < 1000 - 500);
    // Then the entries that sweep kept die (timers cancelled late): the
    // next sweep starts after them, finds nothing, and must go back.
    let second: Vec<u32> = (600..1000).collect();
    cancel_all(&mut b, &second, &mut gone);
    let (garbage, listed) = stale_and_listed(&b, &gone);
    assert!(
        garbage <= COMPACT_MIN as usize + 2 * SWEEP_STEP,
        "{garbage} stale entries kept of {}",
        listed
    );
}

#[test]
fn entries_are_never_doubled_or_lost_mid_sweep() {
    let mut b = bucket_of(3000);
    let dead: Vec<u32> = (0..3000).filter(|i| i % 3 != 0).collect();
    let mut gone = HashSet::new();
    // Stop as soon as a sweep is under way with holes in it.
    for &index in &dead {
        gone.insert(index);
        if b.stale(index) {
            b.sweep_step(|e| !gone.contains(&{ e.index }));
            if b.b.holes() > 0 {
                break;
            }
        }
    }
    assert!(b.b.holes() > 0, "no sweep under way");
    assert_eq!(b.len(), b.listed().len(), "holes counted as entries");
    let (bucket, mut store) = b.parts();
    let taken = bucket.take(&mut store);
    let taken: Vec<Entry> = taken.iter().collect();
    let unique: HashSet<u32> = taken.iter().map(|e| e.index).collect();
    assert_eq!(unique.len(), taken.len(), "an entry handed over twice");
    assert!(
        (0..3000).step_by(3).all(|i| unique.contains(&i)),
        "a live entry lost"
    );
    assert_eq!(b.len(), 0);
}

#[test]
fn cancelling_the_earliest_timer_alone_makes_the_earliest_inexact() {
    let mut b = bucket_of(3);
    let deadline = |e: Entry| Some(100 + u64::from(e.index));
    b.compact_exact(deadline);
    assert_eq!((b.b.earliest, b.b.exact), (100, true));
    b.stale(2);
    assert!(b.b.exact, "a later timer left: the earliest still holds");
    b.stale(0);
    assert!(!b.b.exact, "the earliest timer left");
}

#[test]
fn garbage_among_read_entries_is_not_left_to_partial_sweeps() {
    // 3000 entries, the first 2000 read by an earlier sweep; then timers
    // die in both parts: most of them among the entries read before, one
    // in ten of the younger ones.
    let mut b = bucket_of(3000);
    b.b.checked = 2000;
    let mut dead = Vec::new();
    for i in 0..1400 {
        dead.push(i);
        if i % 10 == 0 {
            dead.push(2000 + i / 10 * 7);
        }
    }
    let mut gone = HashSet::new();
    let reads = cancel_all(&mut b, &dead, &mut gone);
    // Partial sweeps alone would each drop the few dead young entries and
    // stop at the live ones, leaving the bucket at the threshold, half
    // garbage (and starting again a few cancels later, each moving the
    // unread tail). A partial sweep that leaves more than a quarter garbage
    // is followed by a full one, which leaves the bucket well under half.
    let (garbage, listed) = stale_and_listed(&b, &gone);
    assert!(
        garbage * 3 <= listed,
        "{garbage} of {} entries stale",
        listed
    );
    assert!(reads < 2 * 3000, "{reads} reads");
}

#[test]
fn a_bucket_record_is_one_cache_line() {
    // A push and a cancel each touch their bucket's record: one line.
    assert_eq!(std::mem::size_of::<Bucket>(), 64);
    assert_eq!(std::mem::align_of::<Bucket>(), 64);
}
