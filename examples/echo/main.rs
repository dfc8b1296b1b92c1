//! An echo server on the reactor (the poll echo server of shared/seeds/004).
//!
//! `cargo run --example echo` serves on 127.0.0.1:7007 until Ctrl-C; try it
//! with `nc 127.0.0.1 7007`. `--self-test` starts it on a free port, echoes
//! a few messages from client threads, prints what came back and exits.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod server;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use rouse_reactor::EventLoop;

/// Flags of the echo example.
#[derive(Parser)]
#[command(about = "An echo server on the rouse reactor")]
struct Args {
    /// Address to serve on (loopback only is wise).
    #[arg(long, default_value = "127.0.0.1:7007")]
    addr: SocketAddr,
    /// Serve on a free port, run a few clients against it, then exit.
    #[arg(long)]
    self_test: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(err) = run(args) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut el = EventLoop::new()?;
    let addr = if args.self_test {
        "127.0.0.1:0".parse()?
    } else {
        args.addr
    };
    let bound = server::listen(&mut el, addr).map_err(|e| {
        format!("cannot listen on {addr}: {e} (is the port taken? try --addr 127.0.0.1:0)")
    })?;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        el.add_signal_handler(signal, |el, _, _| el.stop())?;
    }
    if !args.self_test {
        println!("echo server on {bound}; Ctrl-C stops it");
        el.run(&mut ())?;
        return Ok(());
    }
    let handle = el.handle();
    let clients = std::thread::spawn(move || {
        let results: Vec<String> = (0..3)
            .map(|i| {
                let mut s = std::net::TcpStream::connect(bound).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                let msg = format!("hello from client {i}");
                s.write_all(msg.as_bytes()).expect("write");
                let mut back = vec![0u8; msg.len()];
                s.read_exact(&mut back).expect("read");
                String::from_utf8_lossy(&back).into_owned()
            })
            .collect();
        handle.stop();
        results
    });
    el.call_later(Duration::from_secs(10), |el, _| el.stop());
    el.run(&mut ())?;
    for line in clients.join().map_err(|_| "client thread panicked")? {
        println!("echoed: {line}");
    }
    let m = el.metrics();
    println!(
        "loop: {} iterations, {} handler calls, {} wakes ({} syscalls)",
        m.iterations, m.handlers_run, m.wakes_requested, m.wake_syscalls
    );
    Ok(())
}
