"""kafka-python against a secured Rouse mock listener: produce records with
acks=all over SSL / SASL_PLAINTEXT / SASL_SSL, then read every one back.

Usage: secured.py BOOTSTRAP TOPIC COUNT [--protocol P] [--mechanism M]
       [--user U] [--password W] [--cafile F] [--certfile F] [--keyfile F]
       [--expect-refusal]

Prints one JSON line. Without --expect-refusal it exits non-zero unless
every record came back; with it, it exits non-zero unless the connection
was refused (the JSON says with which error) within the timeouts.
"""
import argparse
import json
import logging
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def settings(args):
    out = {
        "bootstrap_servers": args.bootstrap.split(","),
        "security_protocol": args.protocol,
        "request_timeout_ms": 5000,
        "reconnect_backoff_ms": 50,
        "reconnect_backoff_max_ms": 500,
    }
    if args.mechanism:
        out.update(
            sasl_mechanism=args.mechanism,
            sasl_plain_username=args.user,
            sasl_plain_password=args.password,
        )
    if args.cafile:
        out["ssl_cafile"] = args.cafile
    if args.certfile:
        out.update(ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return out


def produce(args):
    block = 4000 if args.expect_refusal else 20000
    producer = KafkaProducer(acks="all", linger_ms=2, max_block_ms=block, **settings(args))
    futures = []
    for i in range(args.count):
        futures.append(producer.send(args.topic, key=b"k%d" % (i % 13), value=b"v%d" % i))
    producer.flush(timeout=30)
    sent = sorted(f.get(timeout=30) and (b"v%d" % i) for i, f in enumerate(futures))
    producer.close(timeout=10)
    return sent


def consume(args):
    consumer = KafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **settings(args),
    )
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    got = []
    deadline = time.time() + 30
    while len(got) < args.count and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(r.value for r in records)
    consumer.close()
    return sorted(got)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--protocol", default="PLAINTEXT")
    parser.add_argument("--mechanism")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--cafile")
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--expect-refusal", action="store_true")
    args = parser.parse_args()

    if args.expect_refusal:
        # kafka-python logs the broker's SaslAuthenticate error, then keeps
        # retrying until max_block_ms: collect what it logged.
        logged = []

        class Collect(logging.Handler):
            def emit(self, record):
                logged.append(record.getMessage())

        logging.getLogger("kafka").addHandler(Collect(level=logging.ERROR))
        logging.getLogger("kafka").setLevel(logging.ERROR)
        started = time.time()
        try:
            produce(args)
        except Exception as e:  # the refusal is what is tested
            auth = [m for m in logged if "SaslAuthenticate error" in m or "SSL" in m]
            print(json.dumps({"refused": True, "error": type(e).__name__, "message": str(e)[:300],
                              "logged": auth[:1], "seconds": round(time.time() - started, 2)}), flush=True)
            sys.exit(0)
        print(json.dumps({"refused": False}), flush=True)
        sys.exit(1)

    sent = produce(args)
    got = consume(args)
    summary = {"sent": len(sent), "received": len(got), "same_records": sent == got}
    print(json.dumps(summary), flush=True)
    sys.exit(0 if summary["same_records"] and len(sent) == args.count else 1)


if __name__ == "__main__":
    main()
