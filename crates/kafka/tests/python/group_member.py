"""A kafka-python member of a consumer group, for rouse's mixed-group test.

usage: group_member.py BOOTSTRAP TOPIC GROUP SECONDS

Subscribes TOPIC in GROUP (kafka-python's default assignors: range,
roundrobin), polls for SECONDS, and prints JSON lines: {"assignment": [..]}
each time its assignment changes, {"partition": p, "offset": o} for each
record. Closes (LeaveGroup) at the end.
"""

import json
import sys
import time

from kafka import KafkaConsumer


def main():
    bootstrap, topic, group, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        api_version_auto_timeout_ms=10000,
    )
    last = None
    deadline = time.time() + seconds
    while time.time() < deadline:
        for tp, records in consumer.poll(200).items():
            for r in records:
                print(json.dumps({"partition": tp.partition, "offset": r.offset}), flush=True)
        now = sorted(tp.partition for tp in consumer.assignment())
        if now != last:
            last = now
            print(json.dumps({"assignment": now}), flush=True)
    consumer.close()


if __name__ == "__main__":
    main()
