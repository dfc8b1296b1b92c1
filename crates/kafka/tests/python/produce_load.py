"""Produces a load with kafka-python (an independent client and batch
encoder): PER_CODEC records with each codec named, record i of a codec to
partition i % PARTITIONS, value TAG-CODEC-i, and prints each acknowledged
record as `partition offset value`. Exits non-zero if a codec's library is
missing or a record is not acknowledged.

Usage: produce_load.py BOOTSTRAP TOPIC PARTITIONS PER_CODEC TAG CODEC...
"""
import sys

from kafka import KafkaProducer
from kafka import codec as codecs

PRESENT = {
    "gzip": codecs.has_gzip,
    "snappy": codecs.has_snappy,
    "lz4": codecs.has_lz4,
    "zstd": codecs.has_zstd,
}


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    partitions, per_codec, tag = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    for codec in sys.argv[6:]:
        if not PRESENT[codec]():
            sys.exit("kafka-python has no %s library: install the packages in "
                     "crates/kafka/tests/python/requirements.txt" % codec)
    out = sys.stdout
    for codec in sys.argv[6:]:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            compression_type=codec,
            linger_ms=5,
            batch_size=64 * 1024,
            request_timeout_ms=20000,
        )
        futures = []
        for i in range(per_codec):
            value = "%s-%s-%d" % (tag, codec, i)
            futures.append((value, producer.send(
                topic, key=b"k%d" % i, value=value.encode(), partition=i % partitions)))
        producer.flush(timeout=60)
        for value, future in futures:
            meta = future.get(timeout=60)
            out.write("%d %d %s\n" % (meta.partition, meta.offset, value))
        producer.close(timeout=10)
    out.flush()


if __name__ == "__main__":
    main()
