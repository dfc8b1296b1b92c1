//! Unit tests of the wheel's buckets.

use super::*;

fn hint(index: u32) -> Entry {
    Entry { index, tag: 0 }
}

#[test]
fn bucket_for_picks_level_by_distance() {
    assert_eq!(Levels::bucket_for(10, 10), None);
    assert_eq!(Levels::bucket_for(10, 3), None);
    assert_eq!(Levels::bucket_for(10, 11), Some(11));
    assert_eq!(Levels::bucket_for(10, 265), Some(265 % 256));
    // 246 ticks away, across a 256 boundary: still level 0.
    assert_eq!(Levels::bucket_for(250, 496), Some(496 % 256));
    assert_eq!(Levels::bucket_for(10, 266), Some(SLOTS as u16 + 1));
    assert_eq!(
        Levels::bucket_for(0, u64::MAX),
        Some(7 * SLOTS as u16 + 255)
    );
}

#[test]
fn next_bucket_is_the_earliest_across_levels() {
    let mut levels = Levels::new();
    assert_eq!(levels.next_bucket(0), None);
    let far = Levels::bucket_for(5, 3 * 256 + 7).unwrap();
    levels.push(far, hint(1), 0);
    assert_eq!(levels.next_bucket(5), Some((3 * 256, far)));
    // Level 0, due after the level-1 visit: the level-1 bucket comes first.
    let near = Levels::bucket_for(700, 900).unwrap();
    levels.push(near, hint(2), 0);
    assert_eq!(levels.next_bucket(700), Some((3 * 256, far)));
    assert_eq!(levels.take(far).iter().collect::<Vec<_>>(), vec![hint(1)]);
    assert_eq!(levels.next_bucket(700), Some((900, near)));
    levels.take(near);
    // A slot equal to the current digit is one full rotation ahead.
    let rotation = Levels::bucket_for(700, 258 * 256 + 10).unwrap();
    assert_eq!(rotation, SLOTS as u16 + 2);
    levels.push(rotation, hint(3), 0);
    assert_eq!(levels.next_bucket(700), Some((258 * 256, rotation)));
    levels.take(rotation);
    let top = Levels::bucket_for(5, u64::MAX).unwrap();
    levels.push(top, hint(4), 0);
    assert_eq!(levels.next_bucket(5), Some((255 << 56, top)));
}

#[test]
fn same_tick_visits_on_two_levels_are_both_reported() {
    let mut levels = Levels::new();
    let low = Levels::bucket_for(600, 768).unwrap(); // level 0, tick 768
    let high = Levels::bucket_for(300, 800).unwrap(); // level 1, block 3
    levels.push(low, hint(1), 0);
    levels.push(high, hint(2), 0);
    assert_eq!(levels.visit_of(0, 700), Some((768, low)));
    assert_eq!(levels.visit_of(1, 700), Some((768, high)));
    assert_eq!(levels.visit_of(2, 700), None);
}

#[test]
fn compaction_is_due_at_half_garbage_and_keeps_live_entries() {
    let mut levels = Levels::new();
    let n = 4 * COMPACT_MIN;
    for i in 0..n {
        levels.push(9, hint(i), u64::from(i));
    }
    assert_eq!(levels.earliest(9), 0);
    // Half the entries stale: not yet due; one more: due.
    for i in 0..n / 2 {
        assert!(!levels.stale(9, i), "due after {i} stale");
    }
    assert!(levels.stale(9, 0));
    assert!(!levels.is_exact(9), "the earliest went stale");
    levels.compact_exact(9, |e| (e.index >= n / 2).then_some(u64::from(e.index)));
    assert_eq!(levels.len(9), n as usize / 2);
    assert_eq!(
        (levels.earliest(9), levels.is_exact(9)),
        (u64::from(n / 2), true)
    );
    assert_eq!(levels.at(9).garbage(), 0);
    levels.compact(9, |_| false);
    assert_eq!(levels.len(9), 0);
    assert_eq!(levels.next_bucket(0), None, "emptied: not occupied");
    assert_eq!(levels.earliest(9), u64::MAX);
}

#[test]
fn a_big_bucket_grows_in_chunks_it_never_copies_and_reuses_those_of_a_visit() {
    let mut levels = Levels::new();
    let (a, b) = (SLOTS as u16 + 3, SLOTS as u16 + 4);
    let n = 20 * CHUNK as u32 + 5;
    let mut first_chunk = None;
    for i in 0..n {
        levels.push(a, hint(i), 0);
        // Once full, a chunk stays where it is: growing copies no entry of it.
        let at = levels.full_of(a).first().map(|c| c.as_ptr() as usize);
        if first_chunk.is_none() {
            first_chunk = at;
        }
        assert_eq!(at, first_chunk, "the first full chunk moved at push {i}");
    }
    assert_eq!(levels.full_of(a).len(), 20);
    assert!(levels.full_of(a).iter().all(|c| c.len() == CHUNK));
    assert_eq!(levels.len(a), n as usize);
    assert_eq!(levels.entries_of(a), (0..n).map(hint).collect::<Vec<_>>());
    // The visit gives its chunks to the pool; the next big bucket fills
    // those, not fresh memory.
    let visited = levels.take(a);
    assert_eq!(
        visited.iter().collect::<Vec<_>>(),
        (0..n).map(hint).collect::<Vec<_>>()
    );
    let buffers: Vec<usize> = visited.full.iter().map(|c| c.as_ptr() as usize).collect();
    levels.recycle(a, visited);
    assert_eq!(levels.pool.kept(), POOL_MAX, "chunks kept");
    for i in 0..(POOL_MAX * CHUNK) as u32 {
        levels.push(b, hint(i), 0);
    }
    // Its first chunk grew as a vector; every later one came from the pool.
    let reused: Vec<usize> = levels.full_of(b)[1..]
        .iter()
        .map(|c| c.as_ptr() as usize)
        .chain([levels.at(b).entries.as_ptr() as usize])
        .collect();
    assert_eq!(reused.len(), POOL_MAX - 1);
    assert!(
        reused.iter().all(|p| buffers.contains(p)),
        "a chunk of the second bucket is fresh memory"
    );
    // Emptying gives every chunk back.
    levels.compact(b, |_| false);
    assert_eq!(levels.len(b), 0);
    assert!(levels.full_of(b).is_empty());
}
