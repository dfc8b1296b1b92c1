use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Vacancies with `pages` pages of `page` slots, all taken in order.
fn full(page: usize, pages: usize) -> Vacancies {
    let mut v = Vacancies::new(page);
    for i in 0..page * pages {
        if v.take(i).is_none() {
            assert_eq!(v.add_page(), i);
        }
    }
    v
}

#[test]
fn hands_out_in_address_order_and_skips_occupied_slots() {
    let mut v = Vacancies::new(1024);
    assert_eq!(v.take(0), None, "no slots yet");
    assert_eq!(v.add_page(), 0);
    let first: Vec<u32> = (1..10).map(|i| v.take(i).unwrap()).collect();
    assert_eq!(first, (1..10).collect::<Vec<_>>());
    // Freed behind the cursor: they wait for the next turn.
    v.give(3);
    v.give(7);
    assert_eq!(v.take(8), Some(10), "the cursor goes on forward");
    for i in 11..200 {
        assert_eq!(v.take(i), Some(i as u32));
    }
    // Occupied from the cursor to 150: it skips to 150.
    v.give(150);
    v.aim(100);
    assert_eq!(v.take(200), Some(150));
    assert_eq!(v.take(200), Some(200));
}

#[test]
fn wraps_at_the_end_and_reuses_freed_slots() {
    let mut v = full(MIN_TURN, 1);
    assert_eq!(v.take(MIN_TURN), None, "all occupied: add a page");
    v.give(5);
    v.give(40);
    assert_eq!(v.take(MIN_TURN - 2), Some(5), "wrapped to the start");
    assert_eq!(v.take(MIN_TURN - 1), Some(40));
    assert!(!v.is_vacant(5) && !v.is_vacant(40));
}

#[test]
fn gives_up_after_one_line_of_the_bitmap() {
    let mut v = full(64 * 64, 1);
    // The only vacancy is 9 words past the cursor (which wrapped to 0).
    v.give(64 * 9 + 1);
    assert_eq!(v.take(64 * 64 - 1), None, "beyond the search's reach");
    v.give(64 * 8 + 63);
    assert_eq!(
        v.take(64 * 64 - 1),
        Some(64 * 8 + 63),
        "the last word reached"
    );
}

#[test]
fn many_vacant_slots_out_of_reach_are_found_anyway() {
    let mut v = full(64 * 64, 1);
    for i in 64 * 32..64 * 64 {
        v.give(i as u32);
    }
    v.aim(0);
    assert_eq!(v.take(64 * 32), Some(64 * 32), "half vacant: no growth");
    // One vacancy in 64 or fewer: the caller grows instead.
    let mut v = full(64 * 64, 1);
    for i in 64 * 63..64 * 64 {
        v.give(i as u32);
    }
    v.aim(0);
    assert_eq!(v.take(64 * 63), None);
}

#[test]
fn a_new_page_goes_where_the_cursor_is() {
    let mut v = full(1024, 3);
    v.order = vec![0, 1, 2];
    v.place = vec![0, 1, 2];
    v.aim(600);
    v.give(2500);
    assert_eq!(v.take(3071), None, "2500 is out of reach");
    // The new page (3) goes after page 0, where the cursor is, not last.
    assert_eq!(v.add_page(), 3072);
    assert_eq!(v.order, [0, 3, 1, 2]);
    for i in 1..1024 {
        assert_eq!(v.take(3072), Some(3072 + i));
    }
    // Then the cursor goes on into page 1.
    v.give(1500);
    v.give(1100);
    assert_eq!(v.take(4094), Some(1100));
    assert_eq!(v.take(4095), Some(1500));
}

#[test]
fn a_few_timers_cycle_through_a_few_slots() {
    let mut v = full(4096, 16);
    for i in 0..64 * 1024 {
        v.give(i as u32);
    }
    v.aim(0);
    // One timer at a time, inserted then freed: the cursor wraps at
    // MIN_TURN slots, not at the 65,536 there are.
    let mut highest = 0;
    for _ in 0..10 * MIN_TURN {
        let i = v.take(1).unwrap();
        highest = highest.max(i);
        v.give(i);
    }
    assert_eq!(highest as usize, MIN_TURN - 1);
    // With many live timers it goes past.
    v.aim(MIN_TURN as u32);
    assert_eq!(v.take(10_000), Some(MIN_TURN as u32));
}

#[derive(Debug, Clone)]
enum Op {
    Take,
    /// Free the n-th occupied slot (modulo their number).
    Give(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => Just(Op::Take), 2 => any::<usize>().prop_map(Op::Give)]
}

proptest! {
    /// Against a set of occupied slots: a slot is handed out only while
    /// vacant, a search fails only with an eighth of the slots vacant or
    /// fewer, and the bitmap agrees with the set throughout.
    #[test]
    fn agrees_with_a_set_of_occupied_slots(
        page in prop_oneof![Just(128usize), Just(4096)],
        ops in proptest::collection::vec(op(), 1..3000),
    ) {
        let mut v = Vacancies::new(page);
        let mut occupied = BTreeSet::new();
        for op in ops {
            match op {
                Op::Take => {
                    let index = match v.take(occupied.len()) {
                        Some(index) => index,
                        None => {
                            let vacant = v.slots() - occupied.len();
                            prop_assert!(vacant * 64 <= v.slots(), "{vacant} vacant, yet grew");
                            v.add_page() as u32
                        }
                    };
                    prop_assert!(occupied.insert(index), "slot {} handed out twice", index);
                    prop_assert!((index as usize) < v.slots());
                }
                Op::Give(n) => {
                    if !occupied.is_empty() {
                        let index = *occupied.iter().nth(n % occupied.len()).unwrap();
                        occupied.remove(&index);
                        v.give(index);
                    }
                }
            }
        }
        for i in 0..v.slots() as u32 {
            prop_assert_eq!(v.is_vacant(i), !occupied.contains(&i));
        }
        let mut order = v.order.clone();
        order.sort_unstable();
        prop_assert_eq!(order, (0..(v.slots() / page) as u32).collect::<Vec<_>>());
        for (place, &p) in v.order.iter().enumerate() {
            prop_assert_eq!(v.place[p as usize] as usize, place);
        }
        for (word, bits) in v.bits.iter().enumerate() {
            let marked = v.summary[word / 64] & (1 << (word % 64)) != 0;
            prop_assert_eq!(marked, *bits != 0, "summary of word {}", word);
        }
    }
}
