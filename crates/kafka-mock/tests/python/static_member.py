"""Static membership (KIP-345) with kafka-python, against any broker.

Usage: static_member.py BOOTSTRAP TOPIC PARTITIONS GROUP

Two members with group.instance.id settle over the topic. One stops
without leaving (static members never send LeaveGroup) and a new consumer
with the same group.instance.id starts: it gets the same partitions in the
same generation (no rebalance), and a heartbeat naming the old member id
with that instance id is refused with FENCED_INSTANCE_ID (82). Prints one
JSON summary line; exits non-zero on a mismatch.
"""
import sys

from group_common import Member, SETTLE_S, report, stop_all, heartbeat_as, settle


def main():
    bootstrap, topic, partitions, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    members = [Member("static-%d" % i, bootstrap, topic, group, "instance-%d" % i) for i in range(2)]
    for m in members:
        m.start()
    summary = {"ok": False}
    try:
        before = settle(members, partitions)
        old_owned, generation, old_id = before[1]
        restarted = members.pop()
        restarted.stop.set()
        restarted.join(SETTLE_S)
        again = Member("static-1-again", bootstrap, topic, group, "instance-1")
        again.start()
        members.append(again)
        after = settle(members, partitions)
        new_owned, new_generation, new_id = after[1]
        fenced = members[0].on_thread(heartbeat_as(generation, old_id, "instance-1", group))
        summary.update({
            "before": [sorted(s[0]) for s in before],
            "after": [sorted(s[0]) for s in after],
            "generations": [generation, new_generation],
            "member_ids": [old_id, new_id],
            "old_member_heartbeat_error": fenced,
        })
        summary["ok"] = (new_owned == old_owned and new_generation == generation
                         and new_id != old_id and fenced == 82)
    except Exception as e:
        summary["error"] = repr(e)
    finally:
        stop_all(members)
    report(summary, members)


if __name__ == "__main__":
    main()
