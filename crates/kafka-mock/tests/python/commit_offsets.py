"""kafka-python commits offsets for a group against the Rouse mock cluster
and reads them back: through the committing consumer, through a second
consumer of the same group (which resumes consuming at the commit), and
not through a consumer of another group.

Usage: commit_offsets.py BOOTSTRAP TOPIC PARTITIONS GROUP

Produces 10 records to each partition, commits offset p + 3 with metadata
"meta-p" for partition p, and prints one JSON summary line. Exits non-zero
if anything read back differs.
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata


def consumer(bootstrap, group):
    return KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
        session_timeout_ms=10000,
        retry_backoff_ms=50,
    )


def main():
    bootstrap, topic, partitions, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
    for p in range(partitions):
        for i in range(10):
            producer.send(topic, value=b"v%d" % i, partition=p)
    producer.flush(timeout=30)
    producer.close(timeout=10)

    tps = [TopicPartition(topic, p) for p in range(partitions)]
    wanted = {tp: OffsetAndMetadata(tp.partition + 3, "meta-%d" % tp.partition, -1) for tp in tps}

    first = consumer(bootstrap, group)
    first.assign(tps)
    first.commit(wanted)
    read_back = {tp.partition: first.committed(tp, metadata=True) for tp in tps}
    first.close()

    second = consumer(bootstrap, group)
    second.assign(tps)
    fresh = {tp.partition: second.committed(tp) for tp in tps}
    # Where the second consumer resumes: the first record each partition
    # gives it. (Not position(): kafka-python's position() then sleeps in
    # its client poll until request_timeout_ms, its own missing wakeup.)
    positions = {}
    deadline = time.time() + 30
    while len(positions) < partitions and time.time() < deadline:
        for tp, records in second.poll(timeout_ms=200).items():
            positions.setdefault(tp.partition, records[0].offset)
    second.close()

    stranger = consumer(bootstrap, group + "-other")
    stranger.assign(tps)
    other = {tp.partition: stranger.committed(tp) for tp in tps}
    stranger.close()

    ok = True
    for tp in tps:
        want = wanted[tp]
        got = read_back[tp.partition]
        if got is None or got.offset != want.offset or got.metadata != want.metadata:
            ok = False
        if fresh[tp.partition] != want.offset or positions.get(tp.partition) != want.offset:
            ok = False
        if other[tp.partition] is not None:
            ok = False
    print(json.dumps({
        "ok": ok,
        "committed": {p: c.offset if c else None for p, c in read_back.items()},
        "metadata": {p: c.metadata if c else None for p, c in read_back.items()},
        "second_consumer": fresh,
        "positions": positions,
        "other_group": other,
    }), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
