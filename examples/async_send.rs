//! `producer.send(record)?.await` inside tokio: a `DeliveryFuture` is a
//! plain `std::future::Future`, woken by the producer's poller thread when
//! the broker answers. rouse-kafka itself has no async runtime.
//!
//! `cargo run --example async_send` (an embedded mock cluster), or
//! `cargo run --example async_send -- HOST:PORT` for a real broker.

// An example prints what it shows.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use rouse::kafka::{Producer, ProducerConfig, Record};
use rouse::kafka_mock::{ClusterConfig, MockCluster};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut _mock = None;
    let bootstrap = match std::env::args().nth(1) {
        Some(address) => address,
        None => {
            let cluster = MockCluster::start(ClusterConfig::new(1))?;
            cluster.create_topic("orders", 3)?;
            let address = cluster.bootstrap_servers();
            _mock = Some(cluster);
            address
        }
    };
    let producer = Producer::new(ProducerConfig::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("linger.ms", "5"),
    ])?)?;

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
