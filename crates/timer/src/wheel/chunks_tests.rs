//! Property test of a bucket's chunked entries against a plain vector:
//! every operation a bucket makes, across chunk boundaries (a chunk is
//! 16 entries in tests), leaves the same entries in the same order, full
//! chunks exactly full, and only chunk buffers in the pool.

use proptest::prelude::*;

use super::*;

fn entry(index: u32) -> Entry {
    Entry { index, tag: 0 }
}

#[derive(Debug, Clone)]
enum Op {
    /// Appends this many entries (as a bucket's pushes would).
    Push(u16),
    /// Removes positions `from..to` (scaled to the length) by moving the
    /// rest down, as a sweep settling does.
    CloseGap(u16, u16),
    Truncate(u16),
    SwapRemove(u16),
    /// Keeps the entries whose index is not a multiple of this.
    Retain(u8),
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u16..80).prop_map(Op::Push),
        2 => (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Op::CloseGap(a, b)),
        1 => any::<u16>().prop_map(Op::Truncate),
        2 => any::<u16>().prop_map(Op::SwapRemove),
        1 => (2u8..6).prop_map(Op::Retain),
        1 => Just(Op::Pop),
    ]
}

/// A position in `0..=len` from an arbitrary number.
fn scale(n: u16, len: usize) -> usize {
    n as usize % (len + 1)
}

struct Held {
    tail: Vec<Entry>,
    full: Vec<Vec<Entry>>,
    pool: Pool,
}

impl Held {
    fn chunks(&mut self) -> Chunks<'_> {
        Chunks {
            tail: &mut self.tail,
            full: &mut self.full,
            pool: &mut self.pool,
        }
    }

    /// As the wheel's push: a tail of a full chunk moves to the full list.
    fn push(&mut self, entry: Entry) {
        if self.tail.len() == CHUNK {
            let filled = std::mem::replace(&mut self.tail, self.pool.take());
            self.full.push(filled);
        }
        self.tail.push(entry);
    }

    fn all(&self) -> Vec<Entry> {
        self.full
            .iter()
            .flatten()
            .chain(&self.tail)
            .copied()
            .collect()
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut held = Held {
        tail: Vec::with_capacity(CHUNK),
        full: Vec::new(),
        pool: Pool::default(),
    };
    let mut model: Vec<Entry> = Vec::new();
    let mut next = 0u32;
    for op in ops {
        match *op {
            Op::Push(n) => {
                for _ in 0..n {
                    held.push(entry(next));
                    model.push(entry(next));
                    next += 1;
                }
            }
            Op::CloseGap(a, b) => {
                let (a, b) = (scale(a, model.len()), scale(b, model.len()));
                let (from, to) = (a.min(b), a.max(b));
                held.chunks().close_gap(from, to);
                model.drain(from..to);
            }
            Op::Truncate(n) => {
                let len = scale(n, model.len());
                held.chunks().truncate(len);
                model.truncate(len);
            }
            Op::SwapRemove(n) if !model.is_empty() => {
                let at = n as usize % model.len();
                held.chunks().swap_remove(at);
                model.swap_remove(at);
            }
            Op::SwapRemove(_) => {}
            Op::Retain(m) => {
                held.chunks().retain(|e| e.index % u32::from(m) != 0);
                model.retain(|e| e.index % u32::from(m) != 0);
            }
            Op::Pop => {
                prop_assert_eq!(held.chunks().pop(), model.pop());
            }
        }
        prop_assert_eq!(held.all(), model.clone(), "after {:?}", op);
        prop_assert_eq!(held.chunks().len(), model.len());
        prop_assert!(
            held.full.iter().all(|c| c.len() == CHUNK),
            "a full chunk not full"
        );
        prop_assert!(held.tail.len() <= CHUNK);
        let positions: Vec<Entry> = {
            let chunks = held.chunks();
            (0..model.len()).map(|p| chunks.get(p)).collect()
        };
        prop_assert_eq!(positions, model.clone(), "get by position");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn chunked_entries_behave_as_one_vector(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}

#[test]
fn the_pool_keeps_only_chunk_buffers_and_at_most_its_bound() {
    let mut pool = Pool::default();
    pool.give(Vec::with_capacity(CHUNK + 1));
    pool.give(Vec::with_capacity(3));
    assert_eq!(pool.kept(), 0, "odd-sized buffers are freed");
    for _ in 0..POOL_MAX + 5 {
        pool.give(Vec::with_capacity(CHUNK));
    }
    assert_eq!(pool.kept(), POOL_MAX);
    let reused = pool.take();
    assert_eq!((reused.len(), reused.capacity()), (0, CHUNK));
    pool.clear();
    assert_eq!(pool.allocated_bytes(), 0);
}
