use std::time::Duration;

use super::*;

const SERVERS: (&str, &str) = ("bootstrap.servers", "127.0.0.1:9092");

fn from(pairs: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
    ConsumerConfig::from_pairs(std::iter::once(SERVERS).chain(pairs.iter().copied()))
}

#[test]
fn defaults_are_javas() {
    let c = from(&[]).unwrap();
    assert_eq!(c.bootstrap_servers(), ["127.0.0.1:9092"]);
    assert_eq!(c.group_id(), None);
    assert_eq!(c.client_id(), "");
    assert_eq!(c.auto_offset_reset(), AutoOffsetReset::Latest);
    assert!(!c.enable_auto_commit(), "no group.id: no auto-commit");
    assert_eq!(c.auto_commit_interval(), Duration::from_secs(5));
    assert_eq!(c.fetch_min_bytes(), 1);
    assert_eq!(c.fetch_max_wait(), Duration::from_millis(500));
    assert_eq!(c.fetch_max_bytes(), 52_428_800);
    assert_eq!(c.max_partition_fetch_bytes(), 1_048_576);
    assert_eq!(c.max_poll_records(), 500);
    assert_eq!(c.isolation_level(), IsolationLevel::ReadUncommitted);
    assert!(c.check_crcs());
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(c.retry_backoff(), Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max(), Duration::from_secs(1));
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(50));
    assert_eq!(c.connections_max_idle(), Some(Duration::from_secs(540)));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_secs(1));
    assert_eq!(c.metadata_max_age(), Duration::from_secs(300));
    assert_eq!(c.prefetch_bytes_per_partition(), 2048 * 1024);
    assert!(from(&[("group.id", "g")]).unwrap().enable_auto_commit());
}

#[test]
fn every_key_parses_and_matches_the_builder() {
    let pairs = [
        ("bootstrap.servers", " a:1 , b:2 "),
        ("group.id", "g"),
        ("client.id", "c"),
        ("auto.offset.reset", "EARLIEST"),
        ("enable.auto.commit", "false"),
        ("auto.commit.interval.ms", "100"),
        ("fetch.min.bytes", "10"),
        ("fetch.max.wait.ms", "20"),
        ("fetch.max.bytes", "30"),
        ("max.partition.fetch.bytes", "40"),
        ("max.poll.records", "50"),
        ("isolation.level", "read_committed"),
        ("check.crcs", "false"),
        ("request.timeout.ms", "60"),
        ("retry.backoff.ms", "70"),
        ("retry.backoff.max.ms", "80"),
        ("reconnect.backoff.ms", "90"),
        ("reconnect.backoff.max.ms", "95"),
        ("metadata.max.age.ms", "99"),
        ("queued.max.messages.kbytes", "4"),
        ("connections.max.idle.ms", "-1"),
    ];
    let own = KEYS
        .iter()
        .filter(|k| {
            !["security.", "ssl.", "sasl."]
                .iter()
                .any(|p| k.starts_with(p))
                // the group keys are exercised in group.rs
                && !super::group::KEYS.contains(k)
        })
        .count();
    assert_eq!(pairs.len(), own, "every consumer key is exercised");
    let parsed = ConsumerConfig::from_pairs(pairs).unwrap();
    let ms = Duration::from_millis;
    let typed = ConsumerConfig::builder()
        .bootstrap_servers(["a:1", "b:2"])
        .group_id("g")
        .client_id("c")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .auto_commit_interval(ms(100))
        .fetch_min_bytes(10)
        .fetch_max_wait(ms(20))
        .fetch_max_bytes(30)
        .max_partition_fetch_bytes(40)
        .max_poll_records(50)
        .isolation_level(IsolationLevel::ReadCommitted)
        .check_crcs(false)
        .request_timeout(ms(60))
        .retry_backoff(ms(70))
        .retry_backoff_max(ms(80))
        .reconnect_backoff(ms(90))
        .reconnect_backoff_max(ms(95))
        .metadata_max_age(ms(99))
        .queued_max_messages_kbytes(4)
        .connections_max_idle(None)
        .build()
        .unwrap();
    assert_eq!(parsed, typed);
    assert_eq!(parsed.prefetch_bytes_per_partition(), 4096);
}

#[test]
fn errors_name_the_key_and_what_it_accepts() {
    let cases: &[(&str, &str, &str)] = &[
        ("auto.offset.reset", "smallest", "earliest, latest, none"),
        ("isolation.level", "committed", "read_committed"),
        ("check.crcs", "yes", "true or false"),
        ("max.poll.records", "0", "1..="),
        ("fetch.max.bytes", "-1", "0..="),
        ("fetch.max.wait.ms", "soon", "0..="),
        ("queued.max.messages.kbytes", "0", "1..="),
        ("request.timeout.ms", "0", "at least 1 ms"),
    ];
    for (key, value, expected) in cases {
        let err = from(&[(key, value)]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains(expected),
            "{key}={value}: {msg}"
        );
    }
}

#[test]
fn unknown_keys_are_refused_naming_the_consumers_keys() {
    let err = from(&[("key.deserializer", "x")]).unwrap_err();
    assert!(matches!(
        &err,
        ConfigError::UnknownKey { key, client: "consumer", .. } if key == "key.deserializer"
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("consumer") && msg.contains("max.poll.records"),
        "{msg}"
    );
    // A producer-only key is unknown to the consumer.
    assert!(from(&[("linger.ms", "5")]).is_err());
}

#[test]
fn auto_commit_needs_a_group() {
    let err = from(&[("enable.auto.commit", "true")]).unwrap_err();
    assert!(matches!(err, ConfigError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("group.id"));
    assert!(from(&[("enable.auto.commit", "true"), ("group.id", "g")]).is_ok());
    assert!(
        !from(&[("group.id", "")]).unwrap().enable_auto_commit(),
        "an empty group.id is no group"
    );
}

#[test]
fn bootstrap_servers_are_required_and_checked() {
    let err = ConsumerConfig::from_pairs([("group.id", "g")]).unwrap_err();
    assert!(err.to_string().contains("bootstrap.servers"));
    let err = ConsumerConfig::from_pairs([("bootstrap.servers", "nohost")]).unwrap_err();
    assert!(err.to_string().contains("nohost"));
}

#[test]
fn a_backoff_cap_below_its_backoff_is_raised() {
    let c = from(&[("retry.backoff.ms", "500"), ("retry.backoff.max.ms", "10")]).unwrap();
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(500));
}

#[test]
fn the_security_keys_are_the_producers() {
    let c = from(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "alice"),
        ("sasl.password", "secret"),
    ])
    .unwrap();
    assert_eq!(
        c.security_protocol(),
        crate::SecurityProtocol::SaslPlaintext
    );
    assert!(
        !format!("{c:?}").contains("secret"),
        "the password is redacted"
    );
    let err = from(&[("security.protocol", "SASL_PLAINTEXT")]).unwrap_err();
    assert!(err.to_string().contains("sasl"), "{err}");
    let err = from(&[("sasl.mechanism", "MD5")]).unwrap_err();
    assert!(err.to_string().contains("sasl.mechanism"), "{err}");
}
