//! `-X key=value` reaches the demo's producer: the demo binary, run with
//! SCRAM settings against the mock's SASL listener on 127.0.0.1, delivers
//! its records; a wrong password, a bad key and a bad value each stop it
//! with a clear message, within a bound.
//!
//! The demo is an example, which integration tests have no path to (cargo
//! gives them only `CARGO_BIN_EXE_*` of binaries), so the test builds it
//! with the cargo that runs the test and reads its path from cargo's JSON.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslConfig, SaslMechanism};

/// Building the example: a first build of the workspace on two busy cores.
const BUILD_BOUND: Duration = Duration::from_secs(900);
/// One demo run (three short phases, or a refusal).
const RUN_BOUND: Duration = Duration::from_secs(60);
const PASSWORD: &str = "alice-secret";

/// What a bounded run gave.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `command`, killing it (and failing the test) past `bound`.
fn run_bounded(command: &mut Command, bound: Duration) -> Run {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} ran past {bound:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        took: started.elapsed(),
    }
}

/// The demo's executable, built once for all tests of this file.
fn demo_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--example",
            "demo_wakeup",
            "--message-format=json",
        ]);
        let built = run_bounded(&mut build, BUILD_BOUND);
        assert!(built.success, "building the demo: {}", built.stderr);
        built
            .stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["target"]["name"] == "demo_wakeup")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo named the demo's executable")
    })
}

/// The demo with short timings and `args` after them.
fn demo(args: &[&str]) -> Run {
    let mut command = Command::new(demo_binary());
    command.args([
        "--poll-timeout",
        "0.3",
        "--interval",
        "0.05",
        "--sends",
        "2",
    ]);
    command.args(args);
    run_bounded(&mut command, RUN_BOUND)
}

/// A one-broker mock whose listener takes only SCRAM-SHA-256 logins.
fn sasl_mock(topic: &str) -> MockCluster {
    let config = ClusterConfig::new(1).with_sasl(
        SaslConfig::new()
            .with_user("alice", PASSWORD)
            .with_mechanisms([SaslMechanism::ScramSha256]),
    );
    let cluster = MockCluster::start(config).expect("mock starts");
    cluster.create_topic(topic, 1).expect("topic");
    cluster
}

fn scram_settings(password: &str) -> Vec<String> {
    [
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=SCRAM-SHA-256",
        "sasl.username=alice",
        &format!("sasl.password={password}"),
    ]
    .iter()
    .flat_map(|s| ["-X".to_string(), s.to_string()])
    .collect()
}

#[test]
fn scram_settings_given_with_dash_x_deliver_to_a_sasl_listener() {
    let cluster = sasl_mock("demo-sasl");
    let bootstrap = cluster.bootstrap_servers();
    let mut args = vec![
        "--bootstrap",
        &bootstrap,
        "--topic",
        "demo-sasl",
        "--json",
        "-",
    ];
    let settings = scram_settings(PASSWORD);
    args.extend(settings.iter().map(String::as_str));
    let run = demo(&args);
    assert!(
        run.success,
        "stderr: {}\nstdout: {}",
        run.stderr, run.stdout
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(json["phases"].as_array().map(Vec::len), Some(2), "{json}");
    // Each producer phase: one warm-up record, then the two measured sends;
    // the consumer phase (its consumer logged in with the same -X SASL
    // settings): one warm-up, then a record for each of its two polls.
    let events = json["consumer"]["events"].as_array().map(Vec::len);
    assert_eq!(events, Some(4), "{json}");
    let records = cluster.handle().records("demo-sasl", 0).expect("partition");
    assert_eq!(records.len(), 9, "{json}");
    let first = records[0].value.as_deref().unwrap_or_default();
    assert!(
        String::from_utf8_lossy(first).contains("wakeups"),
        "{records:?}"
    );
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
}

#[test]
fn a_wrong_password_fails_with_an_authentication_error_and_no_secret() {
    let cluster = sasl_mock("demo-sasl-wrong");
    let bootstrap = cluster.bootstrap_servers();
    let wrong = "not-alice-s-password";
    let mut args = vec!["--bootstrap", &bootstrap, "--topic", "demo-sasl-wrong"];
    let settings = scram_settings(wrong);
    args.extend(settings.iter().map(String::as_str));
    args.extend(["-X", "request.timeout.ms=5000"]);
    let run = demo(&args);
    assert!(!run.success, "stdout: {}", run.stdout);
    assert!(
        run.stderr.to_lowercase().contains("authentication"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(wrong), "{}", run.stderr);
    assert!(!run.stdout.contains(wrong), "{}", run.stdout);
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
    assert!(cluster
        .handle()
        .records("demo-sasl-wrong", 0)
        .expect("partition")
        .is_empty());
}

#[test]
fn a_bad_key_is_refused_by_the_config_naming_the_key() {
    // No --bootstrap: the embedded mock, so only the setting can fail.
    let run = demo(&["-X", "no.such.setting=1"]);
    assert!(!run.success, "stdout: {}", run.stdout);
    assert!(
        run.stderr
            .contains("unknown producer setting `no.such.setting`"),
        "{}",
        run.stderr
    );
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
}

#[test]
fn a_bad_value_is_refused_naming_the_key() {
    let run = demo(&["-X", "security.protocol=SSH"]);
    assert!(!run.success, "stdout: {}", run.stdout);
    assert!(run.stderr.contains("security.protocol"), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
}

#[test]
fn a_setting_without_a_value_is_refused_by_the_command_line() {
    let run = demo(&["-X", "security.protocol"]);
    assert!(!run.success, "stdout: {}", run.stdout);
    assert!(
        run.stderr.contains("-X \"security.protocol\" has no value"),
        "{}",
        run.stderr
    );
}
