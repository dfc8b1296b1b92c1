//! `cargo xtask bench reactor`: the loop against its peers, side by side.
//!
//! (a) Cross-thread callbacks: one producer thread posts N closures, the loop
//!     runs them; closures per second for rouse's `Handle::add_callback`,
//!     calloop's channel source, and a tokio current-thread runtime fed by
//!     `Handle::spawn` from the producer thread.
//! (b) Echo: the `echo` example's server (examples/echo/server.rs) against a
//!     tokio echo server built the same way (a task per connection, one
//!     current-thread runtime), each on one thread, under the same
//!     single-threaded mio load generator: C connections ping-ponging 64-byte
//!     messages for a fixed time; requests/s and p99 latency.
#![allow(clippy::print_stdout, missing_docs)]

#[path = "../../../examples/echo/server.rs"]
mod server;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rouse_bench_support::{machine, median};
use rouse_reactor::EventLoop;

const CALLBACKS: u64 = 1_000_000;
const RUNS: usize = 3;
const CONNECTIONS: usize = 32;
const ECHO_FOR: Duration = Duration::from_secs(3);
const MESSAGE: usize = 64;

static COUNT: AtomicU64 = AtomicU64::new(0);

fn bump() {
    COUNT.fetch_add(1, Ordering::Relaxed);
}

/// Callbacks per second through rouse's Handle.
fn rouse_callbacks() -> f64 {
    COUNT.store(0, Ordering::SeqCst);
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let start = Instant::now();
    let producer = thread::spawn(move || {
        for _ in 0..CALLBACKS {
            handle.add_callback(|_, _| bump()).unwrap();
        }
    });
    el.run_until(&mut (), |_, _| COUNT.load(Ordering::Relaxed) == CALLBACKS)
        .unwrap();
    let rate = CALLBACKS as f64 / start.elapsed().as_secs_f64();
    producer.join().unwrap();
    rate
}

/// Callbacks per second through a calloop channel source.
fn calloop_callbacks() -> f64 {
    COUNT.store(0, Ordering::SeqCst);
    let mut event_loop: calloop::EventLoop<()> = calloop::EventLoop::try_new().unwrap();
    let (tx, rx) = calloop::channel::channel::<Box<dyn FnOnce() + Send>>();
    event_loop
        .handle()
        .insert_source(rx, |event, _, _| {
            if let calloop::channel::Event::Msg(f) = event {
                f();
            }
        })
        .unwrap();
    let start = Instant::now();
    let producer = thread::spawn(move || {
        for _ in 0..CALLBACKS {
            tx.send(Box::new(bump)).unwrap();
        }
    });
    while COUNT.load(Ordering::Relaxed) < CALLBACKS {
        event_loop
            .dispatch(Duration::from_secs(1), &mut ())
            .unwrap();
    }
    let rate = CALLBACKS as f64 / start.elapsed().as_secs_f64();
    producer.join().unwrap();
    rate
}

/// Tasks per second spawned onto a tokio current-thread runtime from
/// another thread.
fn tokio_callbacks() -> f64 {
    COUNT.store(0, Ordering::SeqCst);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let start = Instant::now();
    let notify = done.clone();
    let producer = thread::spawn(move || {
        for _ in 0..CALLBACKS {
            let notify = notify.clone();
            handle.spawn(async move {
                bump();
                if COUNT.load(Ordering::Relaxed) == CALLBACKS {
                    notify.notify_one();
                }
            });
        }
    });
    rt.block_on(done.notified());
    let rate = CALLBACKS as f64 / start.elapsed().as_secs_f64();
    producer.join().unwrap();
    rate
}

/// Starts the rouse echo server on its own thread; returns its address.
fn rouse_echo() -> (SocketAddr, rouse_reactor::Handle, thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = thread::spawn(move || {
        let mut el = EventLoop::new().unwrap();
        let addr = server::listen(&mut el, "127.0.0.1:0".parse().unwrap()).unwrap();
        tx.send((addr, el.handle())).unwrap();
        el.run(&mut ()).unwrap();
    });
    let (addr, handle) = rx.recv().unwrap();
    (addr, handle, thread)
}

/// A tokio echo server built the same way, on a current-thread runtime.
fn tokio_echo() -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    thread::JoinHandle<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let serve = async {
                loop {
                    let (mut conn, _) = listener.accept().await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            match conn.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if conn.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    });
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = stop_rx => {}
            }
        });
    });
    (rx.recv().unwrap(), stop_tx, thread)
}

/// Ping-pong load from one thread: requests/s and p99 latency in µs.
fn load(addr: SocketAddr) -> (f64, f64) {
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<(TcpStream, usize, Instant)> = (0..CONNECTIONS)
        .map(|i| {
            let s = std::net::TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            s.set_nonblocking(true).unwrap();
            let mut s = TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)
                .unwrap();
            (s, 0, Instant::now())
        })
        .collect();
    let msg = [7u8; MESSAGE];
    let mut latencies = Vec::with_capacity(1 << 20);
    for c in conns.iter_mut() {
        c.0.write_all(&msg).unwrap();
        c.2 = Instant::now();
    }
    let mut events = Events::with_capacity(256);
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while start.elapsed() < ECHO_FOR {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in events.iter() {
            let c = &mut conns[event.token().0];
            loop {
                match c.0.read(&mut buf) {
                    Ok(0) => panic!("server closed a connection"),
                    Ok(n) => {
                        c.1 += n;
                        while c.1 >= MESSAGE {
                            c.1 -= MESSAGE;
                            latencies.push(c.2.elapsed().as_nanos() as u64);
                            c.0.write_all(&msg).unwrap();
                            c.2 = Instant::now();
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("load generator read failed: {e}"),
                }
            }
        }
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let p99 = latencies[(latencies.len() - 1) * 99 / 100] as f64 / 1e3;
    (rate, p99)
}

fn main() {
    let mut md = String::from("## Reactor\n\nCommand: `cargo xtask bench reactor` (release build, one run, peers side by side).\n");
    md.push_str(&format!(
        "Machine: {}. Each figure is the median of {RUNS} runs.\n\n",
        machine()
    ));

    md.push_str(&format!(
        "### (a) Callbacks posted from another thread ({CALLBACKS} per run)\n\n| peer | callbacks/s | rouse vs peer |\n|---|---:|---:|\n"
    ));
    let mut rates: Vec<(&str, Vec<f64>)> = vec![
        ("rouse Handle::add_callback", vec![]),
        ("calloop channel source", vec![]),
        ("tokio current-thread Handle::spawn", vec![]),
    ];
    for _ in 0..RUNS {
        rates[0].1.push(rouse_callbacks());
        rates[1].1.push(calloop_callbacks());
        rates[2].1.push(tokio_callbacks());
    }
    let medians: Vec<(&str, f64)> = rates.into_iter().map(|(n, v)| (n, median(v))).collect();
    for (name, rate) in &medians {
        md.push_str(&format!(
            "| {name} | {rate:.0} | {:.2}x |\n",
            medians[0].1 / rate
        ));
    }

    md.push_str(&format!(
        "\n### (b) Echo, {CONNECTIONS} connections ping-ponging {MESSAGE} B for {} s, server on one thread\n\n| server | requests/s | p99 µs | throughput vs tokio |\n|---|---:|---:|---:|\n",
        ECHO_FOR.as_secs()
    ));
    let (mut rouse_runs, mut tokio_runs) = (vec![], vec![]);
    for _ in 0..RUNS {
        let (addr, handle, thread) = rouse_echo();
        rouse_runs.push(load(addr));
        handle.stop();
        thread.join().unwrap();
        let (addr, stop, thread) = tokio_echo();
        tokio_runs.push(load(addr));
        let _ = stop.send(());
        thread.join().unwrap();
    }
    let summarize = |runs: &[(f64, f64)]| {
        (
            median(runs.iter().map(|r| r.0).collect()),
            median(runs.iter().map(|r| r.1).collect()),
        )
    };
    let (r_rate, r_p99) = summarize(&rouse_runs);
    let (t_rate, t_p99) = summarize(&tokio_runs);
    md.push_str(&format!(
        "| rouse reactor (examples/echo) | {r_rate:.0} | {r_p99:.1} | {:.2}x |\n",
        r_rate / t_rate
    ));
    md.push_str(&format!(
        "| tokio current-thread | {t_rate:.0} | {t_p99:.1} | 1.00x |\n"
    ));
    println!("{md}");
    rouse_bench_support::write_section(&md);
}
