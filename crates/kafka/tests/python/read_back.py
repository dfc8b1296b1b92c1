"""Reads every record of a topic with kafka-python (an independent client)
and prints them as JSON lines: partition, offset, key, value and headers,
bytes as hex, so the Rust test can compare byte for byte.

Usage: read_back.py BOOTSTRAP TOPIC COUNT [OPTION=VALUE ...]
COUNT -1 reads up to the partitions' end offsets as they are at the start.
Each OPTION=VALUE is passed to KafkaConsumer as is (e.g. security_protocol=SSL
ssl_cafile=ca.pem ssl_certfile=client.pem ssl_keyfile=client.key).
"""
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    options = dict(arg.split("=", 1) for arg in sys.argv[4:])
    consumer = KafkaConsumer(
        **options,
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10000,
        fetch_max_wait_ms=100,
    )
    deadline = time.time() + 30
    partitions = None
    while partitions is None and time.time() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            time.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in sorted(partitions or [])]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps) if want < 0 else None

    def done():
        if ends is None:
            return got >= want
        return all(consumer.position(tp) >= end for tp, end in ends.items())

    got = 0
    while not done() and time.time() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            for r in records:
                hexed = lambda b: None if b is None else b.hex()
                print(json.dumps({
                    "partition": tp.partition,
                    "offset": r.offset,
                    "key": hexed(r.key),
                    "value": hexed(r.value),
                    "headers": [[k, hexed(v)] for k, v in (r.headers or [])],
                }))
                got += 1
    consumer.close()
    sys.stdout.flush()
    sys.exit(0 if done() else 1)


if __name__ == "__main__":
    main()
