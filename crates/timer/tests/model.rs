//! Property tests: random insert / cancel / reschedule / expire sequences run
//! on the wheel, the heap and a `BTreeMap` reference model, which must agree
//! on every result (same timers fire, in the same order, none early, none
//! twice, stale keys inert).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rouse_timer::{TimerHeap, TimerKey, TimerWheel, Timers};

/// The reference: pending timers ordered by (deadline, insertion number).
#[derive(Default)]
struct Model {
    by_order: BTreeMap<(Instant, u64), u32>,
    by_id: BTreeMap<u64, Instant>,
    next_id: u64,
}

impl Model {
    fn insert(&mut self, at: Instant, value: u32) -> u64 {
        self.next_id += 1;
        self.by_order.insert((at, self.next_id), value);
        self.by_id.insert(self.next_id, at);
        self.next_id
    }
    fn cancel(&mut self, id: u64) -> Option<u32> {
        let at = self.by_id.remove(&id)?;
        self.by_order.remove(&(at, id))
    }
    fn reschedule(&mut self, id: u64, at: Instant) -> bool {
        let Some(old) = self.by_id.get_mut(&id) else {
            return false;
        };
        let value = self.by_order.remove(&(*old, id)).expect("model consistent");
        *old = at;
        self.by_order.insert((at, id), value);
        true
    }
    fn pop_expired(&mut self, now: Instant) -> Option<(Instant, u32)> {
        let (&(at, id), _) = self.by_order.first_key_value()?;
        if at > now {
            return None;
        }
        self.by_id.remove(&id);
        self.by_order.remove(&(at, id)).map(|v| (at, v))
    }
    fn first(&self) -> Option<Instant> {
        self.by_order.first_key_value().map(|(&(at, _), _)| at)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Insert at `now + offset` (offset in µs, may be negative = past).
    Insert(i64),
    Cancel(usize),
    Reschedule(usize, i64),
    /// Advance time by this many µs, then pop everything due.
    Advance(u64),
    /// Advance, pop one timer, cancel a random key, then pop the rest.
    AdvanceCancelling(u64, usize),
}

fn op() -> impl Strategy<Value = Op> {
    // Offsets mix sub-tick, few-tick, cross-level and far-future deadlines.
    let offset = prop_oneof![
        -3_000i64..3_000,
        0i64..300_000,
        0i64..100_000_000,
        Just(0i64),
        Just(365 * 24 * 3600 * 1_000_000i64),
    ];
    // Steps of whole 256 ms blocks hit visits on two levels at one tick.
    let step = prop_oneof![
        0u64..2_000,
        0u64..400_000,
        Just(70_000_000u64),
        (1u64..4).prop_map(|k| k * 256_000)
    ];
    prop_oneof![
        4 => offset.clone().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), offset).prop_map(|(k, o)| Op::Reschedule(k, o)),
        2 => step.clone().prop_map(Op::Advance),
        1 => (step, any::<usize>()).prop_map(|(s, k)| Op::AdvanceCancelling(s, k)),
    ]
}

/// Inserts and advances only: nothing is cancelled or moved, so a wheel's
/// per-bucket earliest deadlines are exact.
fn insert_or_advance() -> impl Strategy<Value = Op> {
    op().prop_filter("no cancel or reschedule", |op| {
        matches!(op, Op::Insert(_) | Op::Advance(_))
    })
}

fn shift(now: Instant, micros: i64) -> Instant {
    if micros >= 0 {
        now + Duration::from_micros(micros as u64)
    } else {
        now.checked_sub(Duration::from_micros(micros.unsigned_abs()))
            .unwrap_or(now)
    }
}

/// Runs `ops` on `timers` and the model side by side. The loop pops after
/// every advance and both structures compare exact deadlines, so they must
/// match the model exactly: nothing early, nothing late, nothing twice.
/// With `exact`, `next_deadline` must be the first deadline itself, not just
/// a lower bound (a loop sleeping to it never wakes for nothing).
fn check<S: Timers<u32>>(
    mut timers: S,
    start: Instant,
    ops: &[Op],
    exact: bool,
) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut now = start;
    // Every key ever issued (live or stale), with its model id.
    let mut keys: Vec<(TimerKey, u64)> = Vec::new();
    let mut value = 0u32;
    let mut fired = std::collections::HashSet::new();

    let mut pop =
        |timers: &mut S, model: &mut Model, now: Instant| -> Result<bool, TestCaseError> {
            let got = timers.pop_expired(now);
            let want = model.pop_expired(now);
            prop_assert_eq!(got.as_ref().map(|e| (e.deadline, e.value)), want);
            if let Some(e) = got {
                prop_assert!(e.deadline <= now, "fired early");
                prop_assert!(fired.insert(e.value), "fired twice");
                return Ok(true);
            }
            Ok(false)
        };

    for op in ops {
        match *op {
            Op::Insert(offset) => {
                value += 1;
                let at = shift(now, offset).max(start);
                let key = timers.insert_at(at, value);
                keys.push((key, model.insert(at, value)));
            }
            Op::Cancel(pick) if !keys.is_empty() => {
                let (key, id) = keys[pick % keys.len()];
                prop_assert_eq!(timers.cancel(key), model.cancel(id));
            }
            Op::Reschedule(pick, offset) if !keys.is_empty() => {
                let (key, id) = keys[pick % keys.len()];
                let at = shift(now, offset).max(start);
                prop_assert_eq!(timers.reschedule(key, at), model.reschedule(id, at));
            }
            Op::Advance(step) => {
                now += Duration::from_micros(step);
                while pop(&mut timers, &mut model, now)? {}
            }
            Op::AdvanceCancelling(step, pick) => {
                now += Duration::from_micros(step);
                pop(&mut timers, &mut model, now)?;
                if !keys.is_empty() {
                    let (key, id) = keys[pick % keys.len()];
                    prop_assert_eq!(timers.cancel(key), model.cancel(id));
                }
                while pop(&mut timers, &mut model, now)? {}
            }
            Op::Cancel(_) | Op::Reschedule(..) => {}
        }
        prop_assert_eq!(timers.len(), model.by_id.len());
        // The poll timeout must never sleep past the first due timer.
        match (timers.next_deadline(), model.first()) {
            (Some(bound), Some(first)) if exact => prop_assert_eq!(bound, first),
            (Some(bound), Some(first)) => prop_assert!(bound <= first),
            (bound, first) => prop_assert_eq!(bound.is_some(), first.is_some()),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_model(ops in proptest::collection::vec(op(), 1..300)) {
        let start = Instant::now();
        check(TimerWheel::new(start), start, &ops, false)?;
    }

    #[test]
    fn wheel_with_odd_tick_matches_model(ops in proptest::collection::vec(op(), 1..300)) {
        let start = Instant::now();
        let wheel = TimerWheel::with_tick(start, Duration::from_micros(37)).expect("valid tick");
        check(wheel, start, &ops, false)?;
    }

    #[test]
    fn heap_matches_model(ops in proptest::collection::vec(op(), 1..300)) {
        let start = Instant::now();
        check(TimerHeap::new(), start, &ops, false)?;
    }

    #[test]
    fn wheel_next_deadline_is_exact_without_cancels(ops in proptest::collection::vec(insert_or_advance(), 1..300)) {
        let start = Instant::now();
        check(TimerWheel::new(start), start, &ops, true)?;
    }

    #[test]
    fn heap_next_deadline_is_exact_without_cancels(ops in proptest::collection::vec(insert_or_advance(), 1..300)) {
        let start = Instant::now();
        check(TimerHeap::new(), start, &ops, true)?;
    }
}
