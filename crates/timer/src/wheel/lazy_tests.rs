//! Property test of what lazy cancel must keep true: against a reference
//! model, through cancel-heavy mixes that crowd a few buckets, reuse slots
//! at once and move timers between buckets, no timer fires early, late,
//! twice or not at all; every pending timer in a bucket has its live entry
//! there; stale entries stay bounded; and `next_deadline` is the first
//! deadline itself, cancelled timers notwithstanding.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// Insert at `now + ms` (a few buckets of levels 0 and 1).
    Insert(u64),
    /// Insert `n` timers at `now + ms` and cancel all but every 8th.
    Burst(u64, u16),
    Cancel(usize),
    Reschedule(usize, u64),
    /// Advance by this many µs and fire what is due.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let ms = prop_oneof![0u64..300, 250u64..3_000, Just(2_000u64)];
    prop_oneof![
        4 => ms.clone().prop_map(Op::Insert),
        1 => (ms.clone(), 1u16..200).prop_map(|(m, n)| Op::Burst(m, n)),
        4 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), ms).prop_map(|(k, m)| Op::Reschedule(k, m)),
        2 => (0u64..600_000).prop_map(Op::Advance),
    ]
}

/// Every pending timer that is in a bucket has its live entry there, and no
/// bucket holds more stale entries than the compaction threshold plus its
/// live ones (32).
fn check_entries(wheel: &TimerWheel<u32>, keys: &[(TimerKey, u64)]) -> Result<(), TestCaseError> {
    for &(key, _) in keys {
        if !wheel.slots.is_live(key) {
            continue;
        }
        let (_, bucket, _) = wheel.slots.live(key.index).expect("live");
        if bucket != NO_BUCKET {
            let entry = wheel.slots.entry_of(key.index);
            prop_assert!(
                wheel.levels.entries_of(bucket).contains(&entry),
                "timer {key:?} lost its entry in bucket {bucket}"
            );
        }
    }
    let bound = 2 * wheel.len() + 32 * wheel.levels.occupied();
    prop_assert!(wheel.levels.entries() <= bound, "garbage unbounded");
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    // (deadline, id) -> value; id -> deadline.
    let mut model: BTreeMap<(Instant, u64), u32> = BTreeMap::new();
    let mut deadline_of: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut keys: Vec<(TimerKey, u64)> = Vec::new();
    let mut now = start;
    let mut next_id = 0u64;
    let mut insert = |wheel: &mut TimerWheel<u32>,
                      model: &mut BTreeMap<(Instant, u64), u32>,
                      deadline_of: &mut BTreeMap<u64, Instant>,
                      at: Instant| {
        next_id += 1;
        model.insert((at, next_id), next_id as u32);
        deadline_of.insert(next_id, at);
        (wheel.insert_at(at, next_id as u32), next_id)
    };
    for op in ops {
        match *op {
            Op::Insert(ms) => {
                let at = now + Duration::from_millis(ms) + Duration::from_micros(ms % 7);
                keys.push(insert(&mut wheel, &mut model, &mut deadline_of, at));
            }
            Op::Burst(ms, n) => {
                for i in 0..u64::from(n) {
                    let at = now + Duration::from_millis(ms) + Duration::from_micros(i);
                    let (key, id) = insert(&mut wheel, &mut model, &mut deadline_of, at);
                    if i % 8 == 0 {
                        keys.push((key, id));
                    } else {
                        prop_assert_eq!(wheel.cancel(key), Some(id as u32));
                        model.remove(&(at, id));
                        deadline_of.remove(&id);
                    }
                }
            }
            Op::Cancel(pick) if !keys.is_empty() => {
                let (key, id) = keys[pick % keys.len()];
                let want = deadline_of
                    .remove(&id)
                    .and_then(|at| model.remove(&(at, id)));
                prop_assert_eq!(wheel.cancel(key), want);
            }
            Op::Reschedule(pick, ms) if !keys.is_empty() => {
                let (key, id) = keys[pick % keys.len()];
                let at = now + Duration::from_millis(ms);
                let moved = match deadline_of.get_mut(&id) {
                    Some(old) => {
                        let value = model.remove(&(*old, id)).expect("model consistent");
                        *old = at;
                        model.insert((at, id), value);
                        true
                    }
                    None => false,
                };
                prop_assert_eq!(wheel.reschedule(key, at), moved);
            }
            Op::Advance(us) => {
                now += Duration::from_micros(us);
                loop {
                    let got = wheel.pop_expired(now).map(|e| (e.deadline, e.value));
                    let want = match model.first_key_value() {
                        Some((&(at, id), &value)) if at <= now => {
                            model.remove(&(at, id));
                            deadline_of.remove(&id);
                            Some((at, value))
                        }
                        _ => None,
                    };
                    prop_assert_eq!(got, want, "fired out of turn at {:?}", now - start);
                    if got.is_none() {
                        break;
                    }
                }
            }
            Op::Cancel(_) | Op::Reschedule(..) => {}
        }
        prop_assert_eq!(wheel.len(), model.len());
        check_entries(&wheel, &keys)?;
        let first = model.first_key_value().map(|(&(at, _), _)| at);
        prop_assert_eq!(wheel.next_deadline(), first, "next_deadline not exact");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lazy_cancel_keeps_every_timer_and_bounds_garbage(
        ops in proptest::collection::vec(op(), 1..200)
    ) {
        run(&ops)?;
    }
}
