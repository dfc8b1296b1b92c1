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
import sys

from group_common import Member, SETTLE_S, report, stop_all, commit_with, settle


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
        stop_all(members)
    report(summary, members)


if __name__ == "__main__":
    main()
