//! The `rouse-kafka-mock` binary with `--tls --tls-client-auth --sasl-user`:
//! it prints the client settings and writes the CA and client certificate
//! where it says; a client using exactly those settings gets through; its
//! logs never hold the password; bad flags are refused naming the flag.
#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{client_config, tls};
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;

const PASSWORD: &str = "cli-secret-7f3a";

#[test]
fn prints_client_settings_and_serves_them() {
    let dir = std::env::temp_dir().join(format!("rouse-mock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rouse-kafka-mock"))
        .args(["--tls", "--tls-client-auth", "--cert-dir"])
        .arg(&dir)
        .args(["--sasl-user", &format!("alice:{PASSWORD}")])
        .args(["--sasl-mechanism", "SCRAM-SHA-512,PLAIN"])
        .env("RUST_LOG", "rouse_kafka_mock=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut settings = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let last = line.starts_with("sasl.password=");
        settings.push(line);
        if last {
            break;
        }
    }
    let result = std::panic::catch_unwind(|| {
        let get = |key: &str| {
            settings
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} printed: {settings:?}"))
                .to_owned()
        };
        assert_eq!(get("security.protocol"), "SASL_SSL");
        assert_eq!(get("sasl.mechanism"), "SCRAM-SHA-512");
        assert_eq!(get("sasl.username"), "alice");
        assert_eq!(
            get("sasl.password"),
            PASSWORD,
            "the user gave it on the command line"
        );
        let read = |key: &str| std::fs::read_to_string(get(key)).expect("the printed file exists");
        let (ca, cert, key) = (
            read("ssl.ca.location"),
            read("ssl.certificate.location"),
            read("ssl.key.location"),
        );
        let addr = get("bootstrap.servers").parse().expect("one address");
        let mut client = tls(addr, client_config(&ca, Some((&cert, &key))));
        let request = SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str("SCRAM-SHA-512"));
        let response: SaslHandshakeResponse = client.call(1, &request).expect("answered");
        assert_eq!(response.error_code, 0);
        let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
        assert_eq!(offered, ["SCRAM-SHA-512", "PLAIN"]);
    });
    let _ = child.kill();
    let _ = child.wait();
    let logs = logs.join().expect("stderr read");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert!(
        logs.contains("mock cluster listening"),
        "logs were on: {logs}"
    );
    assert!(
        !logs.contains(PASSWORD),
        "the password reached the logs: {logs}"
    );
}

#[test]
fn refuses_bad_security_flags_naming_them() {
    for (args, says) in [
        (&["--sasl-user", "no-colon"][..], "NAME:PASSWORD"),
        (
            &["--sasl-user", "a:b", "--sasl-mechanism", "GSSAPI"],
            "SCRAM-SHA-256",
        ),
        (&["--sasl-mechanism", "PLAIN"], "--sasl-user"),
        (
            &[
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ],
            "/nonexistent/cert.pem",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_rouse-kafka-mock"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
