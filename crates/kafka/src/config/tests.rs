use std::time::Duration;

use super::*;

const SERVERS: (&str, &str) = ("bootstrap.servers", "127.0.0.1:9092");

fn from(pairs: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    ProducerConfig::from_pairs(std::iter::once(SERVERS).chain(pairs.iter().copied()))
}

fn invalid_key(err: ConfigError) -> &'static str {
    match err {
        ConfigError::InvalidValue { key, .. } => key,
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

#[test]
fn defaults_are_javas() {
    let c = from(&[]).unwrap();
    assert_eq!(c.bootstrap_servers(), ["127.0.0.1:9092"]);
    assert_eq!(c.client_id(), "");
    assert_eq!(c.acks(), Acks::All);
    assert_eq!(c.linger(), Duration::from_millis(5));
    assert_eq!(c.batch_size(), 1024 * 1024);
    assert_eq!(c.buffer_memory(), 32 * 1024 * 1024);
    assert_eq!(c.max_block(), Duration::from_secs(60));
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(c.delivery_timeout(), Duration::from_secs(120));
    assert_eq!(c.retries(), 2_147_483_647);
    assert_eq!(c.retry_backoff(), Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(1000));
    assert_eq!(c.max_in_flight_requests_per_connection(), 5);
    assert!(c.enable_idempotence());
    assert_eq!(c.compression(), Compression::None);
    assert_eq!(c.metadata_max_age(), Duration::from_secs(300));
    assert_eq!(c.max_request_size(), 1_048_576);
}

#[test]
fn every_key_parses() {
    let c = ProducerConfig::from_pairs([
        ("bootstrap.servers", " a:1, [::1]:9093 ,b.example:65535"),
        ("client.id", " svc "),
        ("acks", "1"),
        ("linger.ms", "20"),
        ("batch.size", "0"),
        ("buffer.memory", "1024"),
        ("max.block.ms", "0"),
        ("request.timeout.ms", "1000"),
        ("delivery.timeout.ms", "1020"),
        ("retries", "3"),
        ("retry.backoff.ms", "10"),
        ("retry.backoff.max.ms", "50"),
        ("max.in.flight.requests.per.connection", "9"),
        ("enable.idempotence", "FALSE"),
        ("compression.type", "Zstd"),
        ("metadata.max.age.ms", "60000"),
        ("max.request.size", "2048"),
    ])
    .unwrap();
    assert_eq!(
        c.bootstrap_servers(),
        ["a:1", "[::1]:9093", "b.example:65535"]
    );
    assert_eq!(c.client_id(), "svc");
    assert_eq!(c.acks(), Acks::Leader);
    assert_eq!(c.linger(), Duration::from_millis(20));
    assert_eq!(c.batch_size(), 0);
    assert_eq!(c.buffer_memory(), 1024);
    assert_eq!(c.max_block(), Duration::ZERO);
    assert_eq!(c.request_timeout(), Duration::from_secs(1));
    assert_eq!(c.delivery_timeout(), Duration::from_millis(1020));
    assert_eq!(c.retries(), 3);
    assert_eq!(c.retry_backoff(), Duration::from_millis(10));
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(50));
    assert_eq!(c.max_in_flight_requests_per_connection(), 9);
    assert!(!c.enable_idempotence());
    assert_eq!(c.compression(), Compression::Zstd);
    assert_eq!(c.metadata_max_age(), Duration::from_secs(60));
    assert_eq!(c.max_request_size(), 2048);
}

#[test]
fn acks_spellings() {
    for (s, want) in [
        ("0", Acks::None),
        ("1", Acks::Leader),
        ("all", Acks::All),
        ("-1", Acks::All),
        ("ALL", Acks::All),
    ] {
        assert_eq!(
            from(&[("acks", s), ("enable.idempotence", "false")])
                .unwrap()
                .acks(),
            want
        );
    }
    assert_eq!(Acks::All.wire_value(), -1);
    assert_eq!(Acks::None.wire_value(), 0);
    assert_eq!(Acks::Leader.wire_value(), 1);
    let err = from(&[("acks", "2")]).unwrap_err();
    assert_eq!(invalid_key(err.clone()), "acks");
    assert!(err.to_string().contains("0, 1, all, -1"), "{err}");
}

#[test]
fn compression_spellings() {
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let parsed = from(&[("compression.type", &c.to_string())])
            .unwrap()
            .compression();
        assert_eq!(parsed, c);
    }
    let err = from(&[("compression.type", "brotli")]).unwrap_err();
    assert_eq!(invalid_key(err.clone()), "compression.type");
    assert!(
        err.to_string().contains("none, gzip, snappy, lz4, zstd"),
        "{err}"
    );
}

#[test]
fn bad_numbers_name_key_value_and_range() {
    let cases = [
        ("linger.ms", "-1"),
        ("linger.ms", "soon"),
        ("batch.size", "-5"),
        ("batch.size", "2147483648"),
        ("buffer.memory", "lots"),
        ("max.block.ms", "1.5"),
        ("request.timeout.ms", "2147483648"),
        ("delivery.timeout.ms", "-3"),
        ("retries", "-1"),
        ("retries", "2147483648"),
        ("retry.backoff.ms", ""),
        ("retry.backoff.max.ms", "x"),
        ("max.in.flight.requests.per.connection", "0"),
        ("metadata.max.age.ms", "-9"),
        ("max.request.size", "-1"),
        ("enable.idempotence", "yes"),
    ];
    for (key, value) in cases {
        let err = from(&[(key, value)]).unwrap_err();
        match &err {
            ConfigError::InvalidValue {
                key: k,
                value: v,
                expected,
            } => {
                assert_eq!((*k, v.as_str()), (key, value));
                assert!(!expected.is_empty());
            }
            other => panic!("{key}={value}: expected InvalidValue, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(key) && msg.contains("expected"), "{msg}");
    }
}

#[test]
fn unknown_keys_list_the_accepted_ones() {
    let err = from(&[("lingerms", "5")]).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownKey {
            key: "lingerms".into(),
            client: "producer",
            known: ProducerConfig::KEYS,
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("lingerms") && msg.contains("linger.ms") && msg.contains("max.request.size"),
        "{msg}"
    );
    // Java settings this producer has no use for are unknown too.
    assert!(matches!(
        from(&[("key.serializer", "x")]),
        Err(ConfigError::UnknownKey { .. })
    ));
}

#[test]
fn bootstrap_servers_are_required_and_checked() {
    let err = ProducerConfig::from_pairs([("acks", "all")]).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                key: "bootstrap.servers",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("host:port"));
    for bad in [
        "",
        " , ",
        "localhost",
        "host:",
        ":9092",
        "host:0",
        "host:99999",
        "a b:1",
    ] {
        let err = ProducerConfig::from_pairs([("bootstrap.servers", bad)]).unwrap_err();
        assert_eq!(invalid_key(err), "bootstrap.servers", "{bad:?}");
    }
    let err = ProducerConfig::builder()
        .bootstrap_servers(Vec::<String>::new())
        .build()
        .unwrap_err();
    assert_eq!(invalid_key(err), "bootstrap.servers");
}

#[test]
fn explicit_idempotence_conflicts_are_errors() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("acks", "1")], "acks"),
        (&[("retries", "0")], "retries"),
        (
            &[("max.in.flight.requests.per.connection", "6")],
            "max.in.flight.requests.per.connection",
        ),
    ];
    for (pairs, key) in cases {
        let mut all = pairs.to_vec();
        all.push(("enable.idempotence", "true"));
        match from(&all).unwrap_err() {
            ConfigError::Conflict { keys, reason } => {
                assert_eq!(keys, ["enable.idempotence", key]);
                assert!(reason.contains("enable.idempotence=false"), "{reason}");
            }
            other => panic!("expected a conflict on {key}, got {other:?}"),
        }
    }
}

#[test]
fn default_idempotence_yields_to_conflicting_settings() {
    assert!(!from(&[("acks", "0")]).unwrap().enable_idempotence());
    assert!(!from(&[("retries", "0")]).unwrap().enable_idempotence());
    assert!(!from(&[("max.in.flight.requests.per.connection", "6")])
        .unwrap()
        .enable_idempotence());
    assert!(from(&[("max.in.flight.requests.per.connection", "5")])
        .unwrap()
        .enable_idempotence());
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let err = from(&[
        ("linger.ms", "100"),
        ("request.timeout.ms", "1000"),
        ("delivery.timeout.ms", "1099"),
    ])
    .unwrap_err();
    match &err {
        ConfigError::Conflict { keys, .. } => {
            assert_eq!(
                *keys,
                ["delivery.timeout.ms", "linger.ms", "request.timeout.ms"]
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("1100 ms"), "{err}");
    let ok = from(&[
        ("linger.ms", "100"),
        ("request.timeout.ms", "1000"),
        ("delivery.timeout.ms", "1100"),
    ]);
    assert_eq!(ok.unwrap().delivery_timeout(), Duration::from_millis(1100));
    // Not set: raised to the floor instead of failing, as Java does.
    let raised = from(&[("linger.ms", "100000"), ("request.timeout.ms", "60000")]).unwrap();
    assert_eq!(raised.delivery_timeout(), Duration::from_millis(160_000));
}

#[test]
fn retry_backoff_max_never_below_backoff() {
    let c = from(&[("retry.backoff.ms", "500"), ("retry.backoff.max.ms", "200")]).unwrap();
    assert_eq!(c.retry_backoff_max(), Duration::from_millis(500));
}

#[test]
fn backoff_grows_exponentially_up_to_the_cap() {
    let c = from(&[
        ("retry.backoff.ms", "100"),
        ("retry.backoff.max.ms", "1000"),
    ])
    .unwrap();
    let got: Vec<u128> = (1..=6).map(|a| c.backoff_for(a).as_millis()).collect();
    assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
    assert_eq!(c.backoff_for(0).as_millis(), 100);
    assert_eq!(c.backoff_for(u32::MAX).as_millis(), 1000);
}

#[test]
fn jitter_spreads_backoff_by_twenty_percent_either_way() {
    let c = from(&[("retry.backoff.ms", "100")]).unwrap();
    let spread: Vec<u128> = [0, 199, 200, 399, u64::MAX]
        .iter()
        .map(|&r| c.jittered_backoff(1, r).as_millis())
        .collect();
    assert_eq!(spread, [80, 99, 100, 119, 81]);
}

#[test]
fn builder_checks_typed_values_too() {
    let base = || ProducerConfig::builder().bootstrap_servers(["h:1"]);
    assert_eq!(
        invalid_key(
            base()
                .max_in_flight_requests_per_connection(0)
                .build()
                .unwrap_err()
        ),
        "max.in.flight.requests.per.connection"
    );
    assert_eq!(
        invalid_key(
            base()
                .request_timeout(Duration::from_secs(1 << 40))
                .build()
                .unwrap_err()
        ),
        "request.timeout.ms"
    );
    assert_eq!(
        invalid_key(
            base()
                .delivery_timeout(Duration::from_secs(1 << 40))
                .build()
                .unwrap_err()
        ),
        "delivery.timeout.ms"
    );
    assert_eq!(
        invalid_key(base().batch_size(usize::MAX).build().unwrap_err()),
        "batch.size"
    );
    assert_eq!(
        invalid_key(base().max_request_size(usize::MAX).build().unwrap_err()),
        "max.request.size"
    );
    assert_eq!(
        invalid_key(base().retries(u32::MAX).build().unwrap_err()),
        "retries"
    );
    let c = base()
        .client_id("c")
        .acks(Acks::Leader)
        .enable_idempotence(false)
        .batch_size(1)
        .buffer_memory(200)
        .max_block(Duration::from_millis(3))
        .linger(Duration::ZERO)
        .request_timeout(Duration::from_millis(4))
        .delivery_timeout(Duration::from_millis(5))
        .retries(6)
        .retry_backoff(Duration::from_millis(7))
        .retry_backoff_max(Duration::from_millis(8))
        .metadata_max_age(Duration::from_millis(9))
        .max_request_size(100)
        .compression(Compression::Gzip)
        .build()
        .unwrap();
    assert_eq!(
        (
            c.batch_size(),
            c.buffer_memory(),
            c.retries(),
            c.max_request_size(),
            c.client_id()
        ),
        (1, 200, 6, 100, "c")
    );
    assert_eq!(c.compression(), Compression::Gzip);
}

#[test]
fn values_that_cannot_work_are_refused_naming_the_key() {
    for (key, value) in [
        ("request.timeout.ms", "0"),
        ("buffer.memory", "0"),
        ("max.request.size", "10"),
    ] {
        let error = from(&[(key, value)]).unwrap_err();
        assert_eq!(invalid_key(error.clone()), key, "{error}");
        assert!(error.to_string().contains(key), "{error}");
    }
    let c = from(&[
        ("reconnect.backoff.ms", "200"),
        ("reconnect.backoff.max.ms", "100"),
    ])
    .unwrap();
    assert_eq!(
        (c.reconnect_backoff(), c.reconnect_backoff_max()),
        (Duration::from_millis(200), Duration::from_millis(200)),
        "a cap below the backoff is raised to it, as Java does"
    );
    let d = from(&[]).unwrap();
    assert_eq!(
        (d.reconnect_backoff(), d.reconnect_backoff_max()),
        (Duration::from_millis(50), Duration::from_secs(1))
    );
}

#[test]
fn later_pairs_win_and_keys_are_trimmed() {
    let c = from(&[("linger.ms", "1"), (" linger.ms ", " 2 ")]).unwrap();
    assert_eq!(c.linger(), Duration::from_millis(2));
}

#[test]
fn idle_connections_close_after_nine_minutes_unless_minus_one() {
    assert_eq!(
        from(&[]).unwrap().connections_max_idle(),
        Some(Duration::from_secs(540))
    );
    let c = from(&[("connections.max.idle.ms", "250")]).unwrap();
    assert_eq!(c.connections_max_idle(), Some(Duration::from_millis(250)));
    let c = from(&[("connections.max.idle.ms", "-1")]).unwrap();
    assert_eq!(c.connections_max_idle(), None);
    for bad in ["0", "-2", "soon"] {
        let error = from(&[("connections.max.idle.ms", bad)]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("-1 to keep idle connections open"),
            "{error}"
        );
        assert_eq!(invalid_key(error), "connections.max.idle.ms");
    }
}
