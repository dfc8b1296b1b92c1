"""Produces records with kafka-python (an independent client and batch
encoder) with every codec it has, and prints each acknowledged record as a
JSON line: partition, offset, codec, value, header value; bytes as text.

Usage: produce_codecs.py BOOTSTRAP TOPIC PER_CODEC
"""
import json
import sys

from kafka import KafkaProducer
from kafka import codec as codecs


def main():
    bootstrap, topic, per_codec = sys.argv[1], sys.argv[2], int(sys.argv[3])
    available = {
        None: True,
        "gzip": codecs.has_gzip(),
        "snappy": codecs.has_snappy(),
        "lz4": codecs.has_lz4(),
        "zstd": codecs.has_zstd(),
    }
    for codec, present in available.items():
        if not present:
            continue
        producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            compression_type=codec,
            linger_ms=20,
            request_timeout_ms=10000,
        )
        name = codec or "none"
        futures = []
        for i in range(per_codec):
            value = ("%s-%d" % (name, i)).encode()
            headers = [("codec", name.encode()), ("codec", b"again"), ("empty", b"")]
            futures.append((value, producer.send(topic, key=b"k%d" % i, value=value, headers=headers)))
        producer.flush(timeout=30)
        for value, future in futures:
            meta = future.get(timeout=30)
            print(json.dumps({
                "partition": meta.partition,
                "offset": meta.offset,
                "codec": name,
                "value": value.decode(),
            }), flush=True)
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
