"""A kafka-python or confluent-kafka (librdkafka) member of a consumer
group, for rouse's mixed-group tests.

usage: group_member.py BOOTSTRAP TOPIC GROUP SECONDS [CLIENT [STRATEGY]]

CLIENT is kafka-python (the default) or confluent-kafka; STRATEGY is the
partition.assignment.strategy (default: the client's own default list,
kafka-python's range,roundrobin; librdkafka's range,roundrobin). Subscribes
TOPIC in GROUP with auto-commit, polls for SECONDS, and prints JSON lines:
{"assignment": [..]} each time its assignment changes, {"partition": p,
"offset": o} for each record. Closes (LeaveGroup) at SECONDS, or earlier
when the line "stop" arrives on stdin.
"""

import json
import sys
import threading
import time

# As rouse's members in the test: a dead member is noticed within 6 s.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500


class KafkaPython:
    def __init__(self, bootstrap, topic, group, strategy):
        from kafka import KafkaConsumer
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

        by_name = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
        options = {}
        if strategy:
            options["partition_assignment_strategy"] = [by_name[s] for s in strategy.split(",")]
        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            api_version_auto_timeout_ms=10000,
            **options,
        )

    def poll(self):
        return [
            (tp.partition, r.offset)
            for tp, records in self.consumer.poll(200).items()
            for r in records
        ]

    def assignment(self):
        return [tp.partition for tp in self.consumer.assignment()]

    def close(self):
        self.consumer.close()


class Confluent:
    def __init__(self, bootstrap, topic, group, strategy):
        from confluent_kafka import Consumer

        config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "auto.commit.interval.ms": 200,
        }
        if strategy:
            config["partition.assignment.strategy"] = strategy
        self.consumer = Consumer(config)
        self.consumer.subscribe([topic])

    def poll(self):
        got = []
        for m in self.consumer.consume(num_messages=1000, timeout=0.2):
            if m.error():
                print("confluent-kafka: %s" % m.error(), file=sys.stderr)
            else:
                got.append((m.partition(), m.offset()))
        return got

    def assignment(self):
        return [tp.partition for tp in self.consumer.assignment()]

    def close(self):
        self.consumer.close()


CLIENTS = {"kafka-python": KafkaPython, "confluent-kafka": Confluent}


def main():
    bootstrap, topic, group, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    client = sys.argv[5] if len(sys.argv) > 5 else "kafka-python"
    strategy = sys.argv[6] if len(sys.argv) > 6 else None
    member = CLIENTS[client](bootstrap, topic, group, strategy)
    stop = threading.Event()

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == "stop":
                stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    last = None
    deadline = time.time() + seconds
    while time.time() < deadline and not stop.is_set():
        for partition, offset in member.poll():
            print(json.dumps({"partition": partition, "offset": offset}), flush=True)
        now = sorted(member.assignment())
        if now != last:
            last = now
            print(json.dumps({"assignment": now}), flush=True)
    member.close()


if __name__ == "__main__":
    main()
