//! The passing of time: which visit comes next, and what each visit does.
//!
//! Two kinds of visit, both found through occupancy bitmaps so empty ticks
//! and blocks cost nothing:
//!
//! - **block visit**, at a block's first tick: the home of the block's digit
//!   and that digit's block list are scanned; every live timer due in this
//!   block goes on its tick's list (or to `ready` if due at this very tick).
//!   Timers of later rotations stay where they are.
//! - **tick visit**: the tick's list goes to `ready` (stale references,
//!   whose timer was cancelled or moved, are dropped).
//!
//! A jump of a whole rotation or more is a **sweep** instead: every home and
//! list is scanned once, whatever the number of blocks jumped.

use super::{home, home_of, TimerWheel, DIGITS};
use crate::wheel::refs::{first_set_from, Ref};

/// Ticks in one rotation of the homes.
const ROTATION: u64 = DIGITS * DIGITS;

impl<T> TimerWheel<T> {
    /// The tick of the next visit after `now_tick`, if any timer waits.
    pub(super) fn next_visit(&self) -> Option<u64> {
        let block = self.now_tick / DIGITS;
        let tick_visit = self
            .ticks
            .next_after((self.now_tick % DIGITS) as usize)
            .map(|d| block * DIGITS + d as u64);
        let bits = self.block_bits();
        let digit = (block % DIGITS) as usize;
        let block_visit = first_set_from(&bits, digit + 1)
            .or_else(|| first_set_from(&bits, 0))
            .and_then(|d| {
                // Blocks ahead until digit d comes round: 1..=256 (the current
                // digit itself is a whole rotation away).
                let ahead = ((d + DIGITS as usize - digit - 1) % DIGITS as usize + 1) as u64;
                (block + ahead).checked_mul(DIGITS)
            });
        match (tick_visit, block_visit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Digits whose block visit has work: a stored timer or a reference.
    fn block_bits(&self) -> [u64; 4] {
        let mut bits = self.homes_occupied;
        for (word, refs) in bits.iter_mut().zip(self.blocks.bits()) {
            *word |= refs;
        }
        bits
    }

    /// Makes every visit due by tick `target`, then sets the time to it.
    pub(super) fn advance(&mut self, target: u64) {
        if target - self.now_tick >= ROTATION {
            self.sweep(target);
            return;
        }
        while let Some(tick) = self.next_visit() {
            if tick > target {
                break;
            }
            self.now_tick = tick;
            if tick % DIGITS == 0 {
                self.visit_block(tick / DIGITS);
            }
            let d = (tick % DIGITS) as usize;
            if self.ticks.is_occupied(d) {
                self.visit_tick(tick, d);
            }
        }
        self.now_tick = self.now_tick.max(target);
    }

    /// The start of `block`: its home's timers and its block list's go on
    /// tick lists (or to `ready`, if due at this very tick).
    fn visit_block(&mut self, block: u64) {
        let d = (block % DIGITS) as usize;
        let Self {
            homes,
            ticks,
            blocks,
            ready,
            tick,
            now_tick,
            ..
        } = self;
        let now = *now_tick;
        let mut place = |due: u64, (index, generation): Ref, deadline_ns: u64, seq: u64| {
            if due <= now {
                ready.push(deadline_ns, seq, index, generation);
            } else {
                ticks.push((due % DIGITS) as usize, (index, generation));
            }
        };
        let mut visited = 0usize;
        for (pos, r) in homes[d].iter_live() {
            let due = tick.divide(r.deadline_ns);
            if due / DIGITS == block {
                place(
                    due,
                    (home::index(d, pos), r.generation),
                    r.deadline_ns,
                    r.seq,
                );
                visited += 1;
            }
        }
        let mut refs = blocks.take(d);
        refs.retain(|&(index, generation)| {
            let (h, pos) = home::split(index);
            let Some(r) = homes.get(h).and_then(|home| home.get(pos, generation)) else {
                return false; // cancelled or fired
            };
            let due = tick.divide(r.deadline_ns);
            if home_of(due) != d || due / DIGITS < block {
                return false; // moved again since, or due already (in `ready`)
            }
            if due / DIGITS == block {
                place(due, (index, generation), r.deadline_ns, r.seq);
                visited += 1;
                return false;
            }
            true // a later rotation
        });
        blocks.restore(d, refs);
        if visited > 100_000 {
            tracing::debug!(block, timers = visited, "timer wheel visited a large block");
        }
    }

    /// Tick `tick` (digit `d` of the current block): its list goes to
    /// `ready`.
    fn visit_tick(&mut self, tick: u64, d: usize) {
        let mut refs = self.ticks.take(d);
        for &(index, generation) in &refs {
            if let Some(r) = self.record(index, generation) {
                if self.tick.divide(r.deadline_ns) == tick {
                    self.ready.push(r.deadline_ns, r.seq, index, generation);
                }
            }
        }
        refs.clear();
        self.ticks.restore(d, refs);
    }

    /// A jump to `target` of a rotation or more: one pass over everything.
    fn sweep(&mut self, target: u64) {
        let before = self.now_tick;
        let block = target / DIGITS;
        self.now_tick = target;
        let mut found: Vec<(u64, Ref, (u64, u64))> = Vec::new();
        // Tick lists belong to the block left behind: all due by now.
        for d in 0..DIGITS as usize {
            let mut refs = self.ticks.take(d);
            let tick = before / DIGITS * DIGITS + d as u64;
            for &(index, generation) in &refs {
                if let Some(r) = self.record(index, generation) {
                    let due = self.tick.divide(r.deadline_ns);
                    if due == tick {
                        found.push((due, (index, generation), (r.deadline_ns, r.seq)));
                    }
                }
            }
            refs.clear();
            self.ticks.restore(d, refs);
        }
        for d in 0..DIGITS as usize {
            // Timers stored at home; ones due by `before` are in `ready`.
            for (pos, r) in self.homes[d].iter_live() {
                let due = self.tick.divide(r.deadline_ns);
                if home_of(due) == d && due > before && due / DIGITS <= block {
                    found.push((
                        due,
                        (home::index(d, pos), r.generation),
                        (r.deadline_ns, r.seq),
                    ));
                }
            }
            let mut refs = self.blocks.take(d);
            refs.retain(|&(index, generation)| {
                let Some(r) = self.record(index, generation) else {
                    return false;
                };
                let due = self.tick.divide(r.deadline_ns);
                if home_of(due) != d || due <= before {
                    return false;
                }
                if due / DIGITS <= block {
                    found.push((due, (index, generation), (r.deadline_ns, r.seq)));
                    return false;
                }
                true
            });
            self.blocks.restore(d, refs);
        }
        tracing::debug!(
            before,
            target,
            timers = found.len(),
            "timer wheel swept a jump of a rotation or more"
        );
        for (due, (index, generation), (deadline_ns, seq)) in found {
            if due <= target {
                self.ready.push(deadline_ns, seq, index, generation);
            } else {
                self.ticks
                    .push((due % DIGITS) as usize, (index, generation));
            }
        }
    }

    /// Drops the stale references of block list `d` (it doubled since it was
    /// last compacted).
    pub(super) fn compact_block_list(&mut self, d: usize) {
        let block = self.now_tick / DIGITS;
        let mut refs = self.blocks.take(d);
        let before = refs.len();
        refs.retain(|&(index, generation)| {
            self.record(index, generation).is_some_and(|r| {
                let due = self.tick.divide(r.deadline_ns);
                home_of(due) == d && due / DIGITS > block
            })
        });
        tracing::trace!(
            list = d,
            before,
            after = refs.len(),
            "timer wheel compacted a block list"
        );
        self.blocks.restore(d, refs);
    }
}
