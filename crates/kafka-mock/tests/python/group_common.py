"""Shared by group_members.py and static_member.py: a KafkaConsumer on its
own thread (a JoinGroup blocks until the other members join), a wait for
the group to settle, and raw requests sent on a member's own thread."""
import json
import sys
import threading
import time

from kafka import KafkaConsumer
from kafka.protocol.commit import OffsetCommitRequest
from kafka.protocol.group import HeartbeatRequest

SETTLE_S = 60


class Member(threading.Thread):
    def __init__(self, name, bootstrap, topic, group, instance_id=None):
        super().__init__(daemon=True)
        self.name_ = name
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            group_id=group,
            group_instance_id=instance_id,
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




def heartbeat_as(generation, member_id, instance_id, group):
    """A Heartbeat v3 naming another member (a fenced static one)."""
    def send(consumer):
        request = HeartbeatRequest[3](group, generation, member_id, instance_id)
        client = consumer._client
        future = client.send(consumer._coordinator.coordinator_id, request)
        client.poll(future=future, timeout_ms=10000)
        if not future.is_done or future.failed():
            return "no answer: %r" % (future.exception,)
        return future.value.error_code
    return send


def stop_all(members):
    """Stops every member thread and waits for each (bounded)."""
    for m in members:
        m.stop.set()
    for m in members:
        m.join(SETTLE_S)


def report(summary, members):
    """Prints the summary as JSON (failed if any member thread failed) and
    exits 0 when it is ok, 1 otherwise."""
    errors = [m.error for m in members if m.error]
    if errors:
        summary["ok"] = False
        summary["thread_errors"] = errors
    print(json.dumps(summary))
    sys.exit(0 if summary["ok"] else 1)
