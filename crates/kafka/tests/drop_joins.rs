//! Dropping the last `Producer` handle joins its poller thread and closes
//! every fd the producer opened. A test of its own binary: it counts the
//! process's threads and fds, which producers of tests running beside it
//! would change under it.
//!
//! Why it reads thread state, not just names: `JoinHandle::join` returns
//! when the kernel clears the thread's tid at exit (`CLONE_CHILD_CLEARTID`),
//! which comes before the kernel reaps the task; for a moment a joined
//! thread is still listed in /proc/self/task, flagged as exiting. A thread
//! that is still *running* is never flagged so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rouse_kafka::Record;

mod common;

use common::{cluster, producer, send_all, TOPIC};

/// `PF_EXITING` in /proc/<pid>/task/<tid>/stat's flags: the thread has
/// left its code and is being torn down.
const PF_EXITING: u64 = 0x4;

/// Threads of this process named `prefix...` that have not begun exiting.
fn live_threads_named(prefix: &str) -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("procfs");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // "tid (comm) state ppid pgrp session tty tpgid flags ..."
            let Some((head, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let comm = head.split_once(" (").map_or("", |(_, c)| c);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let state = fields.first().copied().unwrap_or("X");
            let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
            comm.starts_with(prefix) && !matches!(state, "Z" | "X") && flags & PF_EXITING == 0
        })
        .count()
}

/// The inodes of TCP sockets whose remote port is `port` (IPv4 loopback).
fn tcp_inodes_to(port: u16) -> HashSet<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("procfs");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields.get(2)?.rsplit_once(':')?.1;
            let inode = fields.get(9)?.to_string();
            (u16::from_str_radix(remote_port, 16).ok()? == port).then_some(inode)
        })
        .collect()
}

/// This process's fds: (sockets connected to `port`, epoll/eventfd fds).
fn fds(port: u16) -> (usize, usize) {
    let to_broker = tcp_inodes_to(port);
    let mut sockets = 0;
    let mut anon = 0;
    for fd in std::fs::read_dir("/proc/self/fd")
        .expect("procfs")
        .flatten()
    {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue; // the directory's own fd, closed meanwhile
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            sockets += usize::from(to_broker.contains(inode));
        } else if target.starts_with("anon_inode:") {
            anon += 1;
        }
    }
    (sockets, anon)
}

#[test]
fn dropping_the_last_handle_joins_the_poller_and_closes_its_fds() {
    let cluster = cluster(1, 1);
    let port = cluster
        .bootstrap_servers()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .expect("a port");
    let before = fds(port);
    assert_eq!(before.0, 0, "no client sockets yet");
    let producer = producer(&cluster, &[]);
    let clone = producer.clone();
    send_all(&clone, 10, "drop");
    let pollers = live_threads_named("rouse-kafka-pol");
    assert!(pollers >= 1, "the poller thread runs");
    let running = fds(port);
    assert!(running.0 >= 1, "connected to the broker: {running:?}");
    assert!(
        running.1 > before.1,
        "the poller's epoll and waker: {running:?}"
    );
    drop(producer);
    assert_eq!(
        live_threads_named("rouse-kafka-pol"),
        pollers,
        "a clone keeps it alive"
    );
    // Records still queued when the last handle goes are sent, not lost.
    let pending = clone.send(Record::value(TOPIC, "last")).expect("send");
    let started = Instant::now();
    drop(clone);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "drop is bounded"
    );
    assert_eq!(live_threads_named("rouse-kafka-pol"), pollers - 1, "joined");
    assert_eq!(fds(port), before, "every socket, epoll and eventfd closed");
    let outcome = pending
        .wait_timeout(Duration::from_secs(1))
        .expect("resolved by the drop");
    assert!(outcome.is_ok(), "{outcome:?}");
}
