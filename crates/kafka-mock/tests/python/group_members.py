"""Three kafka-python KafkaConsumers share one group over a topic, against
any broker (the Rouse mock, or tansu to show the mock acts as a broker does).

Usage: group_members.py BOOTSTRAP TOPIC PARTITIONS GROUP

1. Three members subscribe; once the group settles every partition is
   owned by exactly one of them and each owns some.
2. One member closes (LeaveGroup); the other two rebalance and share all
   partitions between them, disjointly.
3. A commit naming the generation from before that rebalance is refused
   with ILLEGAL_GENERATION (22); one naming the current one is taken.

Each consumer runs on its own thread (a JoinGroup blocks until the others
join). Prints one JSON summary line; exits non-zero on any mismatch or
when a step does not settle within its bound.
"""
import json
import sys
import threading
import time

from kafka import KafkaConsumer
from kafka.protocol.commit import OffsetCommitRequest

SETTLE_S = 60


class Member(threading.Thread):
    def __init__(self, name, bootstrap, topic, group):
        super().__init__(daemon=True)
        self.name_ = name
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            group_id=group,
            client_id=name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10000,
            heartbeat_interval_ms=500,
            request_timeout_ms=30000,
            retry_backoff_ms=50,
        )
        self.consumer.subscribe([topic])
        self.topic, self.group = topic, group
        self.lock = threading.Lock()
        self.assigned = set()
        self.generation = -1
        self.member_id = ""
        self.stop = threading.Event()
        self.task = None  # (callable, event, result list), run on this thread
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.consumer.poll(timeout_ms=100)
                gen = self.consumer._coordinator._generation
                with self.lock:
                    self.assigned = {tp.partition for tp in self.consumer.assignment()}
                    self.generation = gen.generation_id
                    self.member_id = gen.member_id
                    task = self.task
                    self.task = None
                if task:
                    fn, done, out = task
                    out.append(fn(self.consumer))
                    done.set()
            self.consumer.close()
        except Exception as e:  # reported in the summary
            self.error = repr(e)

    def snapshot(self):
        with self.lock:
            return set(self.assigned), self.generation, self.member_id

    def on_thread(self, fn):
        done, out = threading.Event(), []
        with self.lock:
            self.task = (fn, done, out)
        if not done.wait(SETTLE_S):
            raise RuntimeError("%s did not run its task" % self.name_)
        return out[0]


def settle(members, partitions):
    """Waits until the members own every partition once, stably for 1 s."""
    deadline = time.time() + SETTLE_S
    stable_since, last = None, None
    while time.time() < deadline:
        snaps = [m.snapshot() for m in members]
        owned = [s[0] for s in snaps]
        gens = {s[1] for s in snaps}
        union = set().union(*owned)
        ok = (all(owned) and len(gens) == 1 and union == set(range(partitions))
              and sum(len(o) for o in owned) == partitions)
        key = (tuple(sorted(tuple(sorted(o)) for o in owned)), tuple(gens))
        if ok and key == last:
            if stable_since and time.time() - stable_since >= 1.0:
                return snaps
        else:
            stable_since = time.time() if ok else None
        last = key
        time.sleep(0.1)
    raise RuntimeError("group did not settle: %r" % [m.snapshot() for m in members])


def commit_with(generation, member_id, topic, group):
    def send(consumer):
        request = OffsetCommitRequest[2](group, generation, member_id, -1, [(topic, [(0, 1, "")])])
        client = consumer._client
        node = consumer._coordinator.coordinator_id
        future = client.send(node, request)
        client.poll(future=future, timeout_ms=10000)
        if not future.is_done or future.failed():
            return "no answer: %r" % (future.exception,)
        return future.value.topics[0][1][0][1]
    return send


def main():
    bootstrap, topic, partitions, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    members = [Member("member-%d" % i, bootstrap, topic, group) for i in range(3)]
    for m in members:
        m.start()
    summary = {"ok": False}
    try:
        three = settle(members, partitions)
        summary["three"] = [sorted(s[0]) for s in three]
        old_generation = three[0][1]

        leaver = members.pop()
        leaver.stop.set()
        leaver.join(SETTLE_S)
        two = settle(members, partitions)
        summary["two"] = [sorted(s[0]) for s in two]
        new_generation, member_id = two[0][1], two[0][2]

        stale = members[0].on_thread(commit_with(old_generation, member_id, topic, group))
        current = members[0].on_thread(commit_with(new_generation, member_id, topic, group))
        summary.update({
            "generations": [old_generation, new_generation],
            "stale_commit_error": stale,
            "current_commit_error": current,
        })
        summary["ok"] = new_generation > old_generation and stale == 22 and current == 0
    except Exception as e:
        summary["error"] = repr(e)
    finally:
        for m in members:
            m.stop.set()
        for m in members:
            m.join(SETTLE_S)
    errors = [m.error for m in members if m.error]
    if errors:
        summary["ok"] = False
        summary["thread_errors"] = errors
    print(json.dumps(summary))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
