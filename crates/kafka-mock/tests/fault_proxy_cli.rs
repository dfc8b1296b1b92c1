//! The `rouse-fault-proxy` binary: prints its routes and forwards bytes.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn prints_its_address_and_forwards_through_delays_and_splits() {
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream_addr = upstream.local_addr().expect("addr");
    upstream.set_nonblocking(true).expect("nonblocking");
    let echo = std::thread::spawn(move || {
        // Bounded: gives up after 10 s if the proxy never connects.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut stream = loop {
            match upstream.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            if stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_rouse-fault-proxy"))
        .args(["--upstream", &upstream_addr.to_string()])
        .args(["--seed", "5", "--delay-ms", "0-5", "--split-max", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut bootstrap = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        if let Some(addr) = line.strip_prefix("bootstrap.servers=") {
            bootstrap = Some(addr.to_owned());
            break;
        }
        assert!(line.starts_with("route listen=127.0.0.1:"), "{line}");
    }
    let result = std::panic::catch_unwind(|| {
        let listen: SocketAddr = bootstrap
            .expect("printed bootstrap.servers in time")
            .parse()
            .expect("one address");
        let mut stream =
            TcpStream::connect_timeout(&listen, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let message = b"hello through the proxy";
        stream.write_all(message).expect("write");
        let mut back = [0u8; 23];
        stream.read_exact(&mut back).expect("echoed in time");
        assert_eq!(&back, message);
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = echo.join();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn refuses_bad_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_rouse-fault-proxy"))
        .args(["--upstream", "127.0.0.1:1", "--delay-ms", "9-1"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("MIN-MAX"));
}
