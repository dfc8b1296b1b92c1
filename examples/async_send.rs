//! `producer.send(record)?.await` inside tokio: a `DeliveryFuture` is a
//! plain `std::future::Future`, woken by the producer's poller thread when
//! the broker answers. rouse-kafka itself has no async runtime.
//!
//! `cargo run --example async_send` (an embedded mock cluster), or
//! `cargo run --example async_send -- HOST:PORT` for a real broker, with any
//! client setting after it as `-X key=value` (repeatable, as kcat's), such
//! as `-X security.protocol=SSL -X ssl.ca.location=ca.pem`.

// An example prints what it shows.
#![allow(clippy::print_stdout)]

#[path = "common/client_settings.rs"]
mod client_settings;

use std::time::Duration;

use rouse::kafka::{Producer, ProducerConfig, Record};
use rouse::kafka_mock::{ClusterConfig, MockCluster};

/// `-X key=value` settings, in the order given.
type ClientSettings = Vec<(String, String)>;

/// `[HOST:PORT] [-X key=value]...`: the broker and the `-X` settings.
fn arguments() -> Result<(Option<String>, ClientSettings), String> {
    let (mut bootstrap, mut settings) = (None, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-X" {
            let setting = args.next().ok_or("-X needs key=value after it")?;
            settings.push(client_settings::parse(&setting)?);
        } else if let Some(setting) = arg.strip_prefix("-X") {
            settings.push(client_settings::parse(setting)?);
        } else if bootstrap.is_none() {
            bootstrap = Some(arg);
        } else {
            return Err(format!("{arg:?}: expected [HOST:PORT] [-X key=value]..."));
        }
    }
    Ok((bootstrap, settings))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (address, settings) = arguments()?;
    let mut _mock = None;
    let bootstrap = match address {
        Some(address) => address,
        None => {
            let cluster = MockCluster::start(ClusterConfig::new(1))?;
            cluster.create_topic("orders", 3)?;
            let address = cluster.bootstrap_servers();
            _mock = Some(cluster);
            address
        }
    };
    let own = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("linger.ms", "5"),
    ];
    let given = settings.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let producer = Producer::new(ProducerConfig::from_pairs(own.into_iter().chain(given))?)?;

    // Await one record...
    let first = producer
        .send(Record::key_value("orders", "user-1", "paid"))?
        .await?;
    println!("orders/{} at offset {}", first.partition, first.offset);

    // ...or send many and await them together, each on its own task.
    let tasks: Vec<_> = (0..10)
        .map(|i| producer.send(Record::value("orders", format!("event-{i}"))))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(tokio::spawn)
        .collect();
    for task in tasks {
        let delivered = task.await??;
        println!(
            "orders/{} at offset {}",
            delivered.partition, delivered.offset
        );
    }
    producer.close(Duration::from_secs(5))?;
    Ok(())
}
