"""Runs kafka-python's consumer-group assignors and its consumer-protocol
codec (both independent of Rouse) over cases read from stdin, one JSON
object a line, and prints one JSON object a line per case:

* "range", "roundrobin": kafka-python's assignment, member -> [[topic, p]],
  or {"python_error": ...} where kafka-python itself fails (2.3.3's
  roundrobin raises KeyError whenever it must skip a member);
* "decoded_subscriptions": each member's Rouse-encoded subscription
  ("subscription_hex") as kafka-python's leader decodes it (its v0 schema,
  as it decodes a Java member's v3 bytes): version, topics, user data;
* "decoded_assignments": each member's Rouse-encoded assignment
  ("assignment_hex") as kafka-python decodes it;
* "python_subscriptions": member -> assignor -> the subscription bytes
  kafka-python sends (sticky with the member's "owned" partitions and
  generation 7 in its user data), with the user data alone;
* "python_assignments": assignor -> member -> the assignment bytes
  kafka-python's leader sends.

Usage: assignor_crosscheck.py < cases.jsonl
"""
import json
import sys

from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.coordinator.protocol import ConsumerProtocol
from kafka.coordinator.subscription import Subscription
from kafka.structs import TopicPartition

METADATA = ConsumerProtocol[0].METADATA
ASSIGNMENT = ConsumerProtocol[0].ASSIGNMENT


class Cluster:
    """The one metadata call the assignors make."""

    def __init__(self, partitions):
        self.partitions = partitions

    def topics(self):
        return set(self.partitions)

    def partitions_for_topic(self, topic):
        if topic not in self.partitions:
            return None
        return set(range(self.partitions[topic]))


def pairs(assignment):
    return sorted([t, p] for t, ps in assignment.assignment for p in ps)


def run_case(case):
    cluster = Cluster(case["partitions"])
    members = case["members"]
    out = {"decoded_subscriptions": {}, "decoded_assignments": {},
           "python_subscriptions": {}, "python_assignments": {}}

    for m in members:
        sub = METADATA.decode(bytes.fromhex(m["subscription_hex"]))
        out["decoded_subscriptions"][m["id"]] = {
            "version": sub.version,
            "topics": list(sub.topics),
            "user_data_hex": None if sub.user_data is None else sub.user_data.hex(),
        }
        out["decoded_assignments"][m["id"]] = pairs(
            ASSIGNMENT.decode(bytes.fromhex(m["assignment_hex"])))

    for assignor in (RangePartitionAssignor, RoundRobinPartitionAssignor):
        subscriptions = {}
        for m in members:
            metadata = assignor.metadata(set(m["topics"]))
            encoded = metadata.encode()
            out["python_subscriptions"].setdefault(m["id"], {})[assignor.name] = {
                "hex": encoded.hex(), "user_data_hex": metadata.user_data.hex()}
            # As kafka-python's leader does: decode what the member sent.
            subscriptions[m["id"]] = Subscription(METADATA.decode(encoded), m["instance"])
        try:
            result = assignor.assign(cluster, subscriptions)
        except Exception as e:  # kafka-python's own bugs: reported, not hidden
            out[assignor.name] = {"python_error": repr(e)}
            continue
        out[assignor.name] = {mid: pairs(a) for mid, a in result.items()}
        out["python_assignments"][assignor.name] = {
            mid: a.encode().hex() for mid, a in result.items()}

    sticky_subs = {}
    for m in members:
        owned = [TopicPartition(t, p) for t, p in m["owned"]]
        metadata = StickyPartitionAssignor._metadata(set(m["topics"]), owned, 7)
        encoded = metadata.encode()
        out["python_subscriptions"][m["id"]]["sticky"] = {
            "hex": encoded.hex(), "user_data_hex": metadata.user_data.hex()}
        sticky_subs[m["id"]] = METADATA.decode(encoded)
    result = StickyPartitionAssignor.assign(cluster, sticky_subs)
    out["python_assignments"]["sticky"] = {mid: a.encode().hex() for mid, a in result.items()}
    return out


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run_case(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
