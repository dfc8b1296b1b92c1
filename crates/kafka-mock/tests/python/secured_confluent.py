"""confluent-kafka (librdkafka, with its own OpenSSL and SCRAM) against a
secured Rouse mock listener: produce records with acks=all over SSL /
SASL_PLAINTEXT / SASL_SSL, then read every one back.

Usage: secured_confluent.py BOOTSTRAP TOPIC COUNT [--protocol P]
       [--mechanism M] [--user U] [--password W] [--cafile F]
       [--certfile F] [--keyfile F] [--expect-refusal] [--spread-ms MS]

The same arguments and JSON line as secured.py (kafka-python), plus
"librdkafka": the library's version, which also goes to stderr for the
test log. Without --expect-refusal it exits non-zero unless every record
came back; with it, it exits non-zero unless librdkafka reported an
authentication or SSL error within the timeouts (the JSON names it and
says after how many seconds). --spread-ms sends the records over that
long (a session lifetime test: the connections must outlive several
sessions).
"""
import argparse
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

# The errors a refused login or TLS session surfaces as. Under TLS 1.3 the
# broker refuses a client certificate after the client's handshake is done,
# so librdkafka reports its alert as a transport error (receive failed).
REFUSALS = {KafkaError._AUTHENTICATION: "_AUTHENTICATION", KafkaError._SSL: "_SSL",
            KafkaError._TRANSPORT: "_TRANSPORT"}


def is_refusal(error):
    if error.code() == KafkaError._TRANSPORT:
        return "SSL alert" in error.str()
    return error.code() in REFUSALS


def settings(args, errors):
    out = {
        "bootstrap.servers": args.bootstrap,
        "security.protocol": args.protocol,
        "socket.timeout.ms": 5000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "error_cb": errors.append,
    }
    if args.mechanism:
        out.update({
            "sasl.mechanism": args.mechanism,
            "sasl.username": args.user,
            "sasl.password": args.password,
        })
    if args.cafile:
        out["ssl.ca.location"] = args.cafile
    elif args.protocol.endswith("SSL"):
        # Only the system's roots, which do not hold the mock's CA.
        out["ssl.ca.location"] = "probe"
    if args.certfile:
        out.update({"ssl.certificate.location": args.certfile, "ssl.key.location": args.keyfile})
    return out


def produce(args, errors):
    producer = Producer({"acks": "all", "linger.ms": 2, "message.timeout.ms": 30000,
                         **settings(args, errors)})
    acked, failed = [], []

    def delivered(err, msg):
        (failed if err else acked).append(err or msg.value())

    pause = args.spread_ms / 1000.0 / max(args.count, 1)
    for i in range(args.count):
        producer.produce(args.topic, key=b"k%d" % (i % 13), value=b"v%d" % i, on_delivery=delivered)
        producer.poll(0)
        if pause:
            time.sleep(pause)
    left = producer.flush(40)
    return sorted(acked), failed, left


def consume(args, errors):
    consumer = Consumer({"group.id": "secured-confluent", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
                         **settings(args, errors)})
    topic = consumer.list_topics(args.topic, timeout=20).topics[args.topic]
    consumer.assign([TopicPartition(args.topic, p, confluent_kafka.OFFSET_BEGINNING)
                     for p in sorted(topic.partitions)])
    got = []
    deadline = time.time() + 30
    while len(got) < args.count and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            got.append(msg.value())
    consumer.close()
    return sorted(got)


def refusal(args):
    """Produces one record and waits (20 s at most) for librdkafka to say
    why it cannot connect."""
    errors = []
    producer = Producer(settings(args, errors))
    started = time.time()
    producer.produce(args.topic, value=b"refused")
    while time.time() - started < 20:
        producer.poll(0.05)
        found = [e for e in errors if is_refusal(e)]
        if found:
            print(json.dumps({"refused": True, "error": REFUSALS[found[0].code()],
                              "message": found[0].str()[:300], "librdkafka": confluent_kafka.libversion()[0],
                              "seconds": round(time.time() - started, 2)}), flush=True)
            producer.purge()
            return 0
    print(json.dumps({"refused": False, "errors": [e.str() for e in errors][:3]}), flush=True)
    return 1


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
    parser.add_argument("--spread-ms", type=int, default=0)
    args = parser.parse_args()
    version = confluent_kafka.libversion()[0]
    print(f"librdkafka {version} (confluent-kafka {confluent_kafka.__version__})",
          file=sys.stderr, flush=True)

    if args.expect_refusal:
        sys.exit(refusal(args))

    errors = []
    sent, failed, left = produce(args, errors)
    got = consume(args, errors)
    summary = {"sent": len(sent), "received": len(got), "same_records": sent == got,
               "failed": [str(f) for f in failed][:3], "unflushed": left, "librdkafka": version,
               "errors": [e.str() for e in errors][:3]}
    print(json.dumps(summary), flush=True)
    sys.exit(0 if summary["same_records"] and len(sent) == args.count else 1)


if __name__ == "__main__":
    main()
