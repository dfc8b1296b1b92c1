use super::*;

fn cold(deadline_ns: u64) -> Cold {
    Cold {
        deadline_ns,
        seq: deadline_ns,
    }
}

#[test]
fn generations_move_on_free() {
    let mut slots = Slots::new();
    let (a, gen_a, _) = slots.insert('a', cold(1), NO_BUCKET);
    let key_a = TimerKey {
        index: a,
        generation: gen_a,
    };
    assert!(slots.is_live(key_a));
    assert_eq!(slots.live(a), Some((gen_a, NO_BUCKET, cold(1))));
    assert_eq!(slots.remove(a), Some(('a', gen_a)));
    assert_eq!(slots.remove(a), None);
    assert_eq!(slots.cancel(key_a), None, "freed: the key is stale");
    assert!(!slots.is_live(key_a));
    assert_eq!(slots.live(a), None);
    // The next turn of the cursor reuses the slot, under a new
    // generation.
    let (mut b, mut gen_b) = (u32::MAX, gen_a);
    for i in 0..super::super::vacancies::MIN_TURN {
        (b, gen_b, _) = slots.insert('b', cold(2), NO_BUCKET);
        if b == a {
            break;
        }
        slots.remove(b);
        assert!(
            i + 1 < super::super::vacancies::MIN_TURN,
            "slot {a} never reused"
        );
    }
    assert_eq!(b, a);
    assert_ne!(gen_b, gen_a);
    assert!(!slots.is_live(key_a));
    assert_eq!(slots.len(), 1);
}

#[test]
fn a_young_timers_slot_is_reused_at_once_an_old_ones_waits_its_turn() {
    let mut slots = Slots::new();
    let mut seq = 0;
    let mut insert = |slots: &mut Slots<u64>| {
        seq += 1;
        let c = Cold {
            deadline_ns: 0,
            seq,
        };
        slots.insert(seq, c, NO_BUCKET).0
    };
    // Set and cleared at once: one slot, over and over.
    let a = insert(&mut slots);
    for _ in 0..1000 {
        slots.remove(a);
        assert_eq!(insert(&mut slots), a);
    }
    // A timer cancelled YOUNG inserts after its own: its slot is left to
    // the address order, and the next insert takes the next one along.
    let old = insert(&mut slots);
    let mut last = old;
    for _ in 0..YOUNG {
        last = insert(&mut slots);
    }
    slots.remove(old);
    assert_eq!(insert(&mut slots), last + 1);
    assert!(slots.vacancies.take_at(old), "still vacant");
}

#[test]
fn an_entry_is_live_only_in_the_bucket_its_slot_names() {
    let mut slots = Slots::new();
    let (a, generation, _) = slots.insert((), cold(1), NO_BUCKET);
    let entry = slots.set_bucket(a, 7);
    assert_eq!(slots.entry_live(entry, 7), Some((generation, cold(1))));
    assert_eq!(slots.entry_live(entry, 8), None);
    let (g, left, c) = slots.reschedule(a, 99).unwrap();
    assert_eq!(
        (g, left, c.deadline_ns, c.seq),
        (generation, Some(7), 99, 1)
    );
    assert_eq!(slots.entry_live(entry, 7), None, "the old entry is stale");
    assert!(!slots.tag_matches(entry), "its tag moved");
    let entry = slots.set_bucket(a, 9);
    assert!(slots.tag_matches(entry));
    let key = TimerKey {
        index: a,
        generation,
    };
    assert_eq!(slots.cancel(key), Some(((), Some(9))));
    assert_eq!(slots.entry_live(entry, 9), None);
    assert!(!slots.tag_matches(entry), "freed: its tag moved");
    assert_eq!(slots.cancel(key), None);
    assert_eq!(slots.reschedule(a, 5), None);
    assert_eq!(slots.len(), 0);
}

#[test]
fn a_tag_that_wrapped_is_caught_by_the_bucket() {
    let mut slots = Slots::new();
    let (a, _, _) = slots.insert((), cold(1), NO_BUCKET);
    let old = slots.set_bucket(a, 7);
    for _ in 0..256 {
        slots.reschedule(a, 5);
    }
    slots.set_bucket(a, 8);
    assert!(slots.tag_matches(old), "256 moves: the tag wrapped");
    assert_eq!(slots.entry_live(old, 7), None, "but not in bucket 7");
    assert_eq!(
        slots.entry_live(old, 8).map(|(_, c)| c.deadline_ns),
        Some(5)
    );
}

#[test]
fn a_slot_never_straddles_two_cache_lines() {
    // With a 4-byte value a slot is 32 bytes: the line a cancel reads
    // must be the whole slot, which the next insert then writes.
    assert_eq!(Slots::<u32>::slot_size(), 32);
    let mut slots = Slots::new();
    for i in 0..PAGE as u32 + 100 {
        slots.insert(i, cold(0), NO_BUCKET);
    }
    for i in (0..PAGE as u32 + 100).step_by(7) {
        let at = slots.slot(i).map(|s| s as *const Slot<u32> as usize);
        let at = at.expect("inserted");
        assert!(at % 64 + 32 <= 64, "slot {i} at {at:#x} straddles");
    }
}

#[test]
fn spans_pages_and_rejects_unknown_indices() {
    let mut slots = Slots::new();
    for i in 0..PAGE as u64 + 3 {
        slots.insert(i, cold(i), NO_BUCKET);
    }
    assert_eq!(
        slots.live(PAGE as u32 + 2).unwrap().2.deadline_ns,
        PAGE as u64 + 2
    );
    assert!(slots.live(u32::MAX).is_none());
    assert_eq!(slots.remove(u32::MAX), None);
    assert!(!slots.is_live(TimerKey {
        index: u32::MAX,
        generation: 0
    }));
}
