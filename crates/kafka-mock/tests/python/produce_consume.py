"""kafka-python against the Rouse mock cluster: produce keyed records with
acks=all, then read every one back, partition by partition.

Usage: produce_consume.py BOOTSTRAP TOPIC COUNT [--pause-at N]

With --pause-at N the script flushes after N records, prints "PAUSED" and
waits for a line on stdin before sending the rest (the Rust test stops a
broker meanwhile). It prints one JSON summary line and exits non-zero if a
record is missing, duplicated, altered or out of order.
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def produce(bootstrap, topic, count, pause_at):
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        retries=1000,
        retry_backoff_ms=50,
        request_timeout_ms=5000,
        reconnect_backoff_ms=50,
        reconnect_backoff_max_ms=500,
        metadata_max_age_ms=1000,
        max_in_flight_requests_per_connection=1,
        linger_ms=2,
    )
    futures = []
    for i in range(count):
        if pause_at is not None and i == pause_at:
            producer.flush(timeout=30)
            print("PAUSED", flush=True)
            sys.stdin.readline()
        key = ("key-%d" % (i % 97)).encode()
        value = ("value-%d" % i).encode()
        futures.append((key, value, producer.send(topic, key=key, value=value)))
    producer.flush(timeout=60)
    sent = []
    for key, value, future in futures:
        meta = future.get(timeout=60)
        sent.append((meta.partition, meta.offset, key, value))
    producer.close(timeout=10)
    return sent


def consume(bootstrap, topic, want):
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
        fetch_max_wait_ms=100,
    )
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    got = []
    deadline = time.time() + 30
    while len(got) < want and time.time() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            for r in records:
                got.append((tp.partition, r.offset, r.key, r.value))
    consumer.close()
    return got


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause_at = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--pause-at" else None
    sent = produce(bootstrap, topic, count, pause_at)
    got = consume(bootstrap, topic, count)

    sent_pairs = sorted((k, v) for _, _, k, v in sent)
    got_pairs = sorted((k, v) for _, _, k, v in got)
    by_partition = {}
    for partition, offset, key, value in sorted(got):
        by_partition.setdefault(partition, []).append((key, value))
    expected = {}
    for partition, offset, key, value in sorted(sent):
        expected.setdefault(partition, []).append((key, value))
    # Send order per partition must be offset order (max_in_flight=1).
    last_offset = {}
    send_order_kept = True
    for partition, offset, _, _ in sent:
        if offset <= last_offset.get(partition, -1):
            send_order_kept = False
        last_offset[partition] = offset
    summary = {
        "send_order_kept": send_order_kept,
        "sent": len(sent),
        "received": len(got),
        "partitions": len(by_partition),
        "same_records": sent_pairs == got_pairs,
        "same_order_per_partition": by_partition == expected,
        "duplicates": len(got_pairs) - len(set(got_pairs)),
    }
    print(json.dumps(summary), flush=True)
    ok = send_order_kept and summary["same_records"] and summary["same_order_per_partition"] and len(sent) == count
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
